"""The CSP learns from the agreement whether its request email reached the customer."""

import smtplib

import pytest
from django.utils import timezone

from outbox.models import EmailStatus, OutboundEmail
from outbox.services import email_send, emails_relay_pending
from tests.outbox.backends import RefusingBackend

from .conftest import DEADLINE, request_agreement, residential

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen")]


@pytest.fixture
def refusing_backend(settings):
    settings.EMAIL_BACKEND = "tests.outbox.backends.RefusingBackend"
    yield RefusingBackend
    RefusingBackend.error = None


def shown(csp_api, agreement):
    return csp_api.get(f"/api/v1/agreements/{agreement.pk}/").json()["affirmation_email_status"]


def test_the_request_email_is_retried_until_the_links_deadline(csp_api):
    agreement = request_agreement(csp_api.csp, residential())
    email = OutboundEmail.objects.get(kind="affirmation_request")
    assert email.deliver_until == agreement.affirmation_expires_at == DEADLINE


def test_queued_then_sent(csp_api, mailoutbox):
    agreement = request_agreement(csp_api.csp, residential())
    assert shown(csp_api, agreement) == "queued"
    emails_relay_pending(now=timezone.now())
    assert shown(csp_api, agreement) == "sent"


def test_an_address_the_server_refuses_shows_failed_in_the_detail_and_the_list(
    csp_api, refusing_backend
):
    agreement = request_agreement(csp_api.csp, residential())
    refusing_backend.error = smtplib.SMTPRecipientsRefused(
        {agreement.customer_email: (550, b"5.1.1 No such mailbox")}
    )
    email_send(email_id=OutboundEmail.objects.get().pk, now=timezone.now())

    assert shown(csp_api, agreement) == "failed"
    [listed] = csp_api.get("/api/v1/agreements/").json()["results"]
    assert listed["affirmation_email_status"] == "failed"


def test_a_request_email_still_undelivered_at_the_deadline_fails_visibly(
    csp_api, refusing_backend, frozen
):
    agreement = request_agreement(csp_api.csp, residential())
    refusing_backend.error = ConnectionRefusedError(111, "Connection refused")
    email = OutboundEmail.objects.get()
    while email.status != EmailStatus.FAILED:
        emails_relay_pending(now=timezone.now())
        email.refresh_from_db()
        frozen.move_to(max(email.next_attempt_at, timezone.now()))
    assert email.attempts > 20 and timezone.now() <= DEADLINE
    assert shown(csp_api, agreement) == "failed"
