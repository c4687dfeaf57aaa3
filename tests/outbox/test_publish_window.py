"""One broker publish per kick window, not one per email (issue 16, H35): a web
process that has published a relay due at the window's end leaves the emails it
commits meanwhile to that relay, and the relay sends every one of them."""

import logging
from datetime import timedelta

import pytest
from celery import current_app

from outbox import services, tasks
from outbox.models import EmailStatus, OutboundEmail

pytestmark = pytest.mark.django_db


@pytest.fixture
def broker(monkeypatch):
    """The tasks' publishes, as the broker would receive them (no worker runs)."""
    published = []
    current_app.conf.task_always_eager = False  # the autouse fixture sets it back
    monkeypatch.setattr(services, "_relay_kicked", [None, None], raising=False)
    monkeypatch.setattr(
        tasks.send_email, "delay", lambda email_id: published.append(("send", email_id))
    )
    monkeypatch.setattr(
        tasks.relay_pending_emails,
        "apply_async",
        lambda eta: published.append(("relay", eta)),
    )
    yield published
    current_app.conf.task_always_eager = True


def _queue_and_commit(queue_test_email, capture, to):
    with capture(execute=True):
        return queue_test_email(to=to)


def test_emails_committed_inside_the_window_are_left_to_the_relay_already_published(
    queue_test_email, clock, broker, django_capture_on_commit_callbacks, mailoutbox
):
    first = _queue_and_commit(queue_test_email, django_capture_on_commit_callbacks, "a@example.com")
    started = first.created_at
    clock.shift(0.5)
    second = _queue_and_commit(
        queue_test_email, django_capture_on_commit_callbacks, "b@example.com"
    )
    clock.shift(0.2)
    third = _queue_and_commit(queue_test_email, django_capture_on_commit_callbacks, "c@example.com")

    assert broker == [("send", first.pk), ("relay", started + services.KICK_WINDOW)]

    # The relay runs when it is due and sends what the skipped publishes would have.
    clock.shift(0.3)
    assert tasks.relay_pending_emails() == 3
    assert sorted(m.to[0] for m in mailoutbox) == [
        "a@example.com",
        "b@example.com",
        "c@example.com",
    ]
    assert {e.status for e in OutboundEmail.objects.filter(pk__in=[second.pk, third.pk])} == {
        EmailStatus.SENT
    }


def test_an_email_committed_near_the_windows_end_is_published_with_a_new_relay(
    queue_test_email, clock, broker, django_capture_on_commit_callbacks
):
    _queue_and_commit(queue_test_email, django_capture_on_commit_callbacks, "a@example.com")
    # Inside the margin left for the worker's clock: not trusted to the first relay.
    clock.shift((services.KICK_WINDOW - services.KICK_CLOCK_MARGIN).total_seconds())
    late = _queue_and_commit(queue_test_email, django_capture_on_commit_callbacks, "b@example.com")

    assert broker[2:] == [("send", late.pk), ("relay", late.created_at + services.KICK_WINDOW)]


def test_a_relay_that_could_not_be_published_covers_nothing(
    queue_test_email, clock, broker, django_capture_on_commit_callbacks, monkeypatch, caplog
):
    def relay_broker_down(eta):
        raise OSError("Connection refused")

    monkeypatch.setattr(tasks.relay_pending_emails, "apply_async", relay_broker_down)
    with caplog.at_level(logging.WARNING, logger="outbox"):
        first = _queue_and_commit(
            queue_test_email, django_capture_on_commit_callbacks, "a@example.com"
        )
        clock.shift(0.1)
        second = _queue_and_commit(
            queue_test_email, django_capture_on_commit_callbacks, "b@example.com"
        )

    assert broker == [("send", first.pk), ("send", second.pk)]
    assert caplog.text.count("could not publish a relay") == 2


def test_a_clock_set_back_does_not_leave_emails_to_a_relay_published_in_its_future(
    queue_test_email, clock, broker, django_capture_on_commit_callbacks
):
    first = _queue_and_commit(queue_test_email, django_capture_on_commit_callbacks, "a@example.com")
    clock.shift(-timedelta(minutes=5).total_seconds())
    earlier = _queue_and_commit(
        queue_test_email, django_capture_on_commit_callbacks, "b@example.com"
    )

    assert broker == [
        ("send", first.pk),
        ("relay", first.created_at + services.KICK_WINDOW),
        ("send", earlier.pk),
        ("relay", earlier.created_at + services.KICK_WINDOW),
    ]
