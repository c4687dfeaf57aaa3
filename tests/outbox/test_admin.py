import smtplib

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from outbox.models import EmailStatus, OutboundEmail
from outbox.services import email_send

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:outbox_outboundemail_changelist")


@pytest.fixture
def failed_email(queue_test_email, settings):
    from tests.outbox.backends import RefusingBackend

    settings.EMAIL_BACKEND = "tests.outbox.backends.RefusingBackend"
    RefusingBackend.error = smtplib.SMTPRecipientsRefused({"bad@example.com": (550, b"no")})
    email = queue_test_email(to="bad@example.com")
    email_send(email_id=email.pk, now=timezone.now())
    RefusingBackend.error = None
    email.refresh_from_db()
    assert email.status == EmailStatus.FAILED
    return email


@pytest.fixture
def sent_email(queue_test_email):
    email = queue_test_email(to="ok@example.com")
    email_send(email_id=email.pk, now=timezone.now())
    return email


@pytest.fixture
def viewer(django_user_model, client):
    user = django_user_model.objects.create_user("viewer", password="x", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_outboundemail"))
    client.force_login(user)
    return client


def test_staff_filter_the_list_by_status(admin_client, failed_email, sent_email):
    response = admin_client.get(CHANGELIST, {"status__exact": "failed"})

    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [failed_email]


def test_staff_find_emails_by_address(admin_client, failed_email, sent_email):
    response = admin_client.get(CHANGELIST, {"q": "ok@example.com"})

    assert list(response.context["cl"].result_list) == [sent_email]


def test_retry_now_sends_failed_emails_again_and_leaves_sent_ones_alone(
    admin_client, failed_email, sent_email, mailoutbox, django_capture_on_commit_callbacks
):
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            CHANGELIST,
            {"action": "retry_now", "_selected_action": [failed_email.pk, sent_email.pk]},
            follow=True,
        )

    assert "1 email(s) queued again; 1 were not failed" in response.content.decode()
    failed_email.refresh_from_db()
    assert failed_email.status == EmailStatus.SENT
    assert failed_email.attempts == 1
    assert [m.to for m in mailoutbox] == [["bad@example.com"]]


def test_the_detail_page_is_read_only_and_hides_the_bodies(admin_client, sent_email):
    response = admin_client.get(reverse("admin:outbox_outboundemail_change", args=[sent_email.pk]))

    assert response.status_code == 200
    page = response.content.decode()
    assert sent_email.subject in page
    assert "This is a test message" not in page
    assert 'name="_save"' not in page


def test_staff_cannot_add_or_delete_emails(admin_client, sent_email):
    add = admin_client.get(reverse("admin:outbox_outboundemail_add"))
    delete = admin_client.post(
        reverse("admin:outbox_outboundemail_delete", args=[sent_email.pk]), {"post": "yes"}
    )

    assert add.status_code == 403
    assert delete.status_code == 403
    assert OutboundEmail.objects.filter(pk=sent_email.pk).exists()


def test_view_only_staff_see_the_list_but_cannot_retry(viewer, failed_email):
    response = viewer.get(CHANGELIST)
    assert response.status_code == 200
    assert "retry_now" not in response.content.decode()

    viewer.post(CHANGELIST, {"action": "retry_now", "_selected_action": [failed_email.pk]})
    assert OutboundEmail.objects.get(pk=failed_email.pk).status == EmailStatus.FAILED


def test_the_list_does_not_run_one_query_per_row(
    admin_client, queue_test_email, django_assert_max_num_queries
):
    for n in range(20):
        queue_test_email(to=f"c{n}@example.com")

    with django_assert_max_num_queries(8):
        admin_client.get(CHANGELIST)
