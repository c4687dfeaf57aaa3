import logging

import pytest
from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError

from outbox import tasks
from outbox.models import EmailStatus, OutboundEmail
from outbox.services import email_queue, email_render, emails_relay_pending

pytestmark = pytest.mark.django_db

REPORT_URL = "http://127.0.0.1:8000/report/"


class Rollback(Exception):
    pass


def test_an_email_queued_in_a_rolled_back_transaction_is_never_sent(
    queue_test_email, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(Rollback), transaction.atomic():
            queue_test_email()
            raise Rollback

    assert callbacks == []
    assert not OutboundEmail.objects.exists()
    assert emails_relay_pending(now=timezone.now()) == 0
    assert mailoutbox == []


def test_a_queued_email_is_sent_once_after_commit(
    queue_test_email, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        email = queue_test_email(to="ana@example.com")

    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == ["ana@example.com"]
    assert mailoutbox[0].subject == "Test message for Ana"
    email.refresh_from_db()
    assert email.status == EmailStatus.SENT
    assert email.sent_at == timezone.now()
    assert email.attempts == 1


def test_nothing_is_sent_before_commit(queue_test_email, mailoutbox):
    email = queue_test_email()

    assert mailoutbox == []
    assert OutboundEmail.objects.get(pk=email.pk).status == EmailStatus.PENDING


def test_a_broker_failure_at_publish_leaves_the_email_for_the_sweep(
    queue_test_email, mailoutbox, django_capture_on_commit_callbacks, monkeypatch, caplog
):
    def broker_down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(tasks.send_email, "delay", broker_down)
    with caplog.at_level(logging.WARNING, logger="outbox"):
        with django_capture_on_commit_callbacks(execute=True):
            email = queue_test_email(to="ana@example.com")

    email.refresh_from_db()
    assert email.status == EmailStatus.PENDING
    assert mailoutbox == []
    assert f"could not publish email {email.pk}" in caplog.text
    assert "ana@example.com" not in caplog.text
    assert "Bright Data Co" not in caplog.text

    monkeypatch.undo()
    assert tasks.relay_pending_emails() == 1
    assert tasks.relay_pending_emails() == 0
    assert len(mailoutbox) == 1


def test_spanish_templates_are_used_for_spanish(queue_test_email):
    email = queue_test_email(language="es")

    assert email.language == "es"
    assert email.subject == "Mensaje de prueba para Ana"
    assert "Hola Ana:" in email.body_text
    assert "Hola Ana:" in email.body_html
    assert "Denuncie a un proveedor" in email.body_html
    assert '<html lang="es">' in email.body_html


def test_a_regional_variant_is_sent_in_its_language(queue_test_email):
    assert queue_test_email(language="es-MX").language == "es"


def test_a_language_the_portal_does_not_offer_is_sent_in_english(queue_test_email):
    email = queue_test_email(language="fr")

    assert email.language == "en"
    assert email.subject == "Test message for Ana"


def test_a_kind_without_spanish_templates_falls_back_to_english(settings, tmp_path):
    folder = tmp_path / "emails" / "english_only" / "en"
    folder.mkdir(parents=True)
    (folder / "subject.txt").write_text("Only in English")
    (folder / "body.txt").write_text(
        '{% extends "emails/base.txt" %}{% block content %}Hi{% endblock %}'
    )
    (folder / "body.html").write_text(
        '{% extends "emails/base.html" %}{% block content %}<p>Hi</p>{% endblock %}'
    )
    settings.TEMPLATES = [
        {**settings.TEMPLATES[0], "DIRS": [tmp_path, *settings.TEMPLATES[0]["DIRS"]]}
    ]

    subject, body_text, body_html = email_render(kind="english_only", language="es", context={})

    assert subject == "Only in English"
    assert body_text.startswith("Hi")
    # Rendered in Spanish all the same: the shared layout speaks the customer's language.
    assert "Denuncie a un proveedor" in body_html


def test_every_email_has_a_text_and_an_html_body_without_images(queue_test_email):
    for language in ("en", "es"):
        email = queue_test_email(language=language)

        assert email.body_text.strip()
        assert email.body_html.lstrip().startswith("<!DOCTYPE html>")
        assert "<img" not in email.body_html.lower()
        assert "<style" not in email.body_html.lower()
        assert REPORT_URL in email.body_text
        assert f'href="{REPORT_URL}"' in email.body_html


def test_the_sent_message_carries_both_bodies(
    queue_test_email, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        email = queue_test_email()

    message = mailoutbox[0]
    assert message.body == email.body_text
    assert message.alternatives == [(email.body_html, "text/html")]


def test_the_text_body_is_not_html_escaped_and_the_html_body_is(queue_test_email):
    email = queue_test_email(company="AT&T <Energy>")

    assert "AT&T <Energy>" in email.body_text
    assert "AT&amp;T &lt;Energy&gt;" in email.body_html


def test_site_url_comes_from_settings_not_the_caller(queue_test_email):
    email = queue_test_email(site_url="https://phish.example")

    assert "phish.example" not in email.body_text
    assert REPORT_URL in email.body_text


def test_the_subject_is_one_line(queue_test_email):
    email = queue_test_email(name="Ana\nBcc: eve@example.com")

    assert "\n" not in email.subject


def test_a_template_without_the_report_link_is_refused(settings, tmp_path):
    folder = tmp_path / "emails" / "no_footer" / "en"
    folder.mkdir(parents=True)
    (folder / "subject.txt").write_text("No footer")
    (folder / "body.txt").write_text("Hi")
    (folder / "body.html").write_text("<p>Hi</p>")
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [tmp_path]}]

    with pytest.raises(ValueError, match="report link"):
        email_queue(
            kind="no_footer", to="a@example.com", language="en", context={}, now=timezone.now()
        )
    assert not OutboundEmail.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_queued_outside_a_transaction_the_email_is_sent_at_once(clock, mailoutbox):
    email = email_queue(
        kind="test_message",
        to="bo@example.com",
        language="en",
        context={"name": "Bo", "company": "Bright Data Co"},
        now=timezone.now(),
    )

    assert len(mailoutbox) == 1
    email.refresh_from_db()
    assert email.status == EmailStatus.SENT


def test_many_emails_queued_at_once_are_one_insert_and_each_goes_out_once(
    mailoutbox, django_capture_on_commit_callbacks
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from outbox.services import emails_queue_many

    now = timezone.now()
    items = [
        (f"person{n}@example.com", "es" if n % 2 else "en", {"name": f"P{n}", "company": "X"}, "")
        for n in range(5)
    ]
    with django_capture_on_commit_callbacks(execute=True):
        with CaptureQueriesContext(connection) as captured, transaction.atomic():
            emails_queue_many(kind="test_message", items=items, now=now)
        inserts = [q for q in captured.captured_queries if q["sql"].startswith("INSERT")]
        assert len(inserts) == 1

    assert sorted(m.to[0] for m in mailoutbox) == sorted(item[0] for item in items)
    assert OutboundEmail.objects.filter(status=EmailStatus.SENT).count() == 5
    assert emails_relay_pending(now=timezone.now()) == 0
    assert len(mailoutbox) == 5
