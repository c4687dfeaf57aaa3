import logging
import smtplib
from datetime import timedelta

import pytest
from django.utils import timezone

from outbox import services
from outbox.models import EmailStatus, OutboundEmail
from outbox.services import email_claim, email_send
from outbox.tasks import send_email
from tests.outbox.backends import RefusingBackend

pytestmark = pytest.mark.django_db


@pytest.fixture
def refusing_backend(settings):
    settings.EMAIL_BACKEND = "tests.outbox.backends.RefusingBackend"
    yield RefusingBackend
    RefusingBackend.error = None


def test_of_two_claims_on_one_email_only_the_first_wins(queue_test_email):
    email = queue_test_email()
    now = timezone.now()

    first = email_claim(email_id=email.pk, now=now)
    second = email_claim(email_id=email.pk, now=now)

    assert first is not None
    assert second is None
    email.refresh_from_db()
    assert email.status == EmailStatus.SENDING
    assert email.claim_token == first
    assert email.claimed_at == now
    assert email.attempts == 1


def test_sending_twice_sends_once(queue_test_email, mailoutbox):
    email = queue_test_email()

    assert send_email(email.pk) is True
    assert send_email(email.pk) is False

    assert len(mailoutbox) == 1
    email.refresh_from_db()
    assert email.status == EmailStatus.SENT
    assert email.attempts == 1
    assert email.claim_token == ""


def test_an_email_claimed_by_another_worker_is_not_sent(queue_test_email, mailoutbox):
    email = queue_test_email()
    email_claim(email_id=email.pk, now=timezone.now())

    assert email_send(email_id=email.pk, now=timezone.now()) is False
    assert mailoutbox == []


def test_an_smtp_failure_backs_off_longer_each_time_until_the_email_is_pointless(
    queue_test_email, refusing_backend, mailoutbox, clock
):
    refusing_backend.error = smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
    email = queue_test_email()
    attempts_at, delays = [], []

    while email.status != EmailStatus.FAILED:
        attempts_at.append(timezone.now())
        assert email_send(email_id=email.pk, now=timezone.now()) is False
        email.refresh_from_db()
        assert email.attempts == len(attempts_at)
        assert email.last_error.startswith("SMTPServerDisconnected")
        if email.status == EmailStatus.PENDING:
            delays.append(email.next_attempt_at - timezone.now())
            # Not due yet: an early call changes nothing.
            assert email_send(email_id=email.pk, now=timezone.now()) is False
            assert OutboundEmail.objects.get(pk=email.pk).attempts == len(attempts_at)
            clock.move_to(email.next_attempt_at)
        assert len(attempts_at) < 200

    assert delays == sorted(delays)
    assert delays[0] < delays[1] < delays[2]
    assert delays[-1] == services.BACKOFF_CAP
    # It kept trying for the whole window (72 hours by default), then stopped.
    assert attempts_at[-1] < email.deliver_until <= attempts_at[-1] + services.BACKOFF_CAP
    assert attempts_at[-1] - attempts_at[0] > timedelta(hours=70)
    assert "no further attempts" in email.last_error
    assert email.sent_at is None
    assert mailoutbox == []


def test_a_failure_that_clears_up_is_sent_on_the_next_attempt(
    queue_test_email, refusing_backend, mailoutbox, clock
):
    refusing_backend.error = ConnectionRefusedError(111, "Connection refused")
    email = queue_test_email()
    email_send(email_id=email.pk, now=timezone.now())
    refusing_backend.error = None
    clock.move_to(OutboundEmail.objects.get(pk=email.pk).next_attempt_at)

    assert email_send(email_id=email.pk, now=timezone.now()) is True

    email.refresh_from_db()
    assert email.status == EmailStatus.SENT
    assert email.attempts == 2
    assert len(mailoutbox) == 1


def test_a_refused_recipient_fails_at_once(queue_test_email, refusing_backend):
    refusing_backend.error = smtplib.SMTPRecipientsRefused(
        {"ana@example.com": (550, b"5.1.1 User unknown")}
    )
    email = queue_test_email()

    assert email_send(email_id=email.pk, now=timezone.now()) is False

    email.refresh_from_db()
    assert email.status == EmailStatus.FAILED
    assert email.attempts == 1
    assert "SMTPRecipientsRefused" in email.last_error


def test_a_message_rejected_with_a_5xx_fails_at_once(queue_test_email, refusing_backend):
    refusing_backend.error = smtplib.SMTPDataError(554, b"5.7.1 Message rejected")
    email = queue_test_email()

    email_send(email_id=email.pk, now=timezone.now())

    assert OutboundEmail.objects.get(pk=email.pk).status == EmailStatus.FAILED


def test_a_recipient_refused_for_now_with_a_4xx_is_retried(queue_test_email, refusing_backend):
    refusing_backend.error = smtplib.SMTPRecipientsRefused(
        {"ana@example.com": (450, b"4.2.1 Mailbox busy, try again later")}
    )
    email = queue_test_email()

    email_send(email_id=email.pk, now=timezone.now())

    email.refresh_from_db()
    assert email.status == EmailStatus.PENDING
    assert email.next_attempt_at > timezone.now()
    assert "450" in email.last_error


def test_a_temporary_4xx_rejection_is_retried(queue_test_email, refusing_backend):
    refusing_backend.error = smtplib.SMTPDataError(451, b"4.3.0 Try again later")
    email = queue_test_email()

    email_send(email_id=email.pk, now=timezone.now())

    assert OutboundEmail.objects.get(pk=email.pk).status == EmailStatus.PENDING


def test_a_failed_send_logs_the_row_but_not_the_address(queue_test_email, refusing_backend, caplog):
    refusing_backend.error = smtplib.SMTPRecipientsRefused({"ana@example.com": (550, b"no")})
    email = queue_test_email(to="ana@example.com")

    with caplog.at_level(logging.WARNING, logger="outbox"):
        email_send(email_id=email.pk, now=timezone.now())

    assert f"email {email.pk}" in caplog.text
    assert "ana@example.com" not in caplog.text


def test_a_worker_whose_claim_was_taken_over_does_not_record_its_outcome(queue_test_email, clock):
    email = queue_test_email()
    stale_token = email_claim(email_id=email.pk, now=timezone.now())
    clock.shift(services.claim_lease())
    fresh_token = email_claim(email_id=email.pk, now=timezone.now())

    assert fresh_token not in (None, stale_token)
    assert services._mark(email.pk, stale_token, status=EmailStatus.SENT) is False
    email.refresh_from_db()
    assert email.status == EmailStatus.SENDING
    assert email.claim_token == fresh_token


def test_backoff_doubles_from_one_minute_up_to_an_hour():
    minutes = [services.backoff_delay(n).total_seconds() / 60 for n in range(1, 9)]

    assert minutes == [1, 2, 4, 8, 16, 32, 60, 60]


@pytest.mark.django_db
def test_a_sealed_link_token_is_materialised_only_in_the_message_sent(mailoutbox):
    from outbox.models import OutboundEmail
    from outbox.services import email_queue, email_send
    from smt_portal.sealed_tokens import sealed_token_new, token_hash

    placeholder, stored_hash = sealed_token_new("affirmation")
    now = timezone.now()
    email = email_queue(
        kind="test_message",
        to="jane@example.com",
        language="en",
        context={"name": f"https://portal.example/affirm/{placeholder}/"},
        now=now,
    )
    row = OutboundEmail.objects.get(pk=email.pk)
    assert placeholder in row.body_text
    assert email_send(email_id=email.pk, now=now)
    (message,) = mailoutbox
    token = message.body.split("/affirm/")[1].split("/")[0]
    assert token_hash(token) == stored_hash
    assert token not in row.body_text + row.body_html
    assert token in message.alternatives[0][0]
