"""Sending: signed POSTs to a real HTTPS receiver, retries, recovery, windows, disabling."""

from datetime import timedelta

import pytest
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from csp_registry.models import EventType
from outbox.models import OutboundEmail
from webhooks.models import DeliveryStatus, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from webhooks.services import (
    backoff_delay,
    deliveries_relay_pending,
    delivery_send,
    payload_body,
)

from .conftest import HOOK_HOST, emit, later

pytestmark = pytest.mark.django_db


def _verified(endpoint, request):
    """The payload, verified by the Standard Webhooks reference implementation."""
    return Webhook(endpoint.secret).verify(request["body"], request["headers"])


def test_an_event_is_posted_to_the_endpoint_after_commit_signed_as_standard_webhooks_says(
    endpoint, receiver, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        [event] = emit(endpoint.csp)
        assert receiver.requests == []  # nothing leaves before the commit
    [request] = receiver.requests
    assert _verified(endpoint, request) == {
        "id": f"evt_{event.pk}",
        "type": "agreement.affirmed",
        "timestamp": event.occurred_at.isoformat(),
        "data": event.data,
    }
    headers = request["headers"]
    assert headers["webhook-id"] == f"evt_{event.pk}"
    assert headers["webhook-timestamp"] == str(int(timezone.now().timestamp()))
    assert headers["content-type"] == "application/json"
    assert request["host"] == f"{HOOK_HOST}:{receiver.port}"
    assert request["path"] == "/smt/events?source=portal"
    delivery = WebhookDelivery.objects.get(event=event)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (
        DeliveryStatus.DELIVERED, 1, 200)  # fmt: skip
    assert delivery.delivered_at == timezone.now()


def test_a_signature_made_with_another_secret_does_not_verify(
    endpoint, receiver, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        emit(endpoint.csp)
    [request] = receiver.requests
    stranger = Webhook("whsec_" + "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=")
    with pytest.raises(Exception, match="No matching signature"):
        stranger.verify(request["body"], request["headers"])


def test_the_signature_carries_the_time_of_the_attempt_not_of_the_event(
    endpoint, receiver, clock, django_capture_on_commit_callbacks
):
    receiver.answer_with(503)
    with django_capture_on_commit_callbacks(execute=True):
        [event] = emit(endpoint.csp)
    retry_at = later(clock, hours=5)
    assert deliveries_relay_pending(now=retry_at) == 1
    first, second = receiver.requests
    assert first["headers"]["webhook-id"] == second["headers"]["webhook-id"] == event.public_id
    assert int(second["headers"]["webhook-timestamp"]) == int(retry_at.timestamp())
    assert _verified(endpoint, second)["id"] == event.public_id


def test_only_the_event_types_an_endpoint_subscribed_to_are_sent_to_it(
    endpoint, receiver, django_capture_on_commit_callbacks
):
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        event_types=[EventType.AGREEMENT_OPTED_OUT]
    )
    with django_capture_on_commit_callbacks(execute=True):
        emit(endpoint.csp, type=EventType.AGREEMENT_AFFIRMED)
        [wanted] = emit(endpoint.csp, type=EventType.AGREEMENT_OPTED_OUT)
    assert receiver.ids() == [wanted.public_id]


def test_another_csps_events_are_not_sent_to_this_endpoint(
    endpoint, receiver, other_csp, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        emit(other_csp)
    assert receiver.requests == [] and not WebhookDelivery.objects.exists()


def test_a_failed_attempt_is_retried_after_a_jittered_backoff_and_each_attempt_is_kept(
    endpoint, receiver, clock, django_capture_on_commit_callbacks
):
    receiver.answer_with(500, b"database is down", times=2)
    with django_capture_on_commit_callbacks(execute=True):
        [event] = emit(endpoint.csp)
    delivery = WebhookDelivery.objects.get(event=event)
    assert delivery.status == DeliveryStatus.PENDING
    assert timezone.now() < delivery.next_attempt_at <= timezone.now() + timedelta(seconds=30)
    assert deliveries_relay_pending(now=timezone.now()) == 0  # not due yet
    assert deliveries_relay_pending(now=later(clock, seconds=30)) == 0  # the second 500
    assert deliveries_relay_pending(now=later(clock, minutes=1)) == 1
    attempts = list(WebhookAttempt.objects.filter(delivery=delivery))
    assert [a.status_code for a in attempts] == [500, 500, 200]
    assert attempts[0].error == "HTTP 500"
    assert attempts[0].response_excerpt == "database is down"
    assert len(receiver.requests) == 3


def test_backoff_grows_exponentially_with_full_jitter_and_is_capped_at_four_hours():
    class Highest:
        def random(self):
            return 1.0

    class Lowest:
        def random(self):
            return 0.0

    ceilings = [backoff_delay(n, rng=Highest()) for n in (1, 2, 3, 4, 30)]
    assert ceilings[:4] == [timedelta(seconds=s) for s in (30, 60, 120, 240)]
    assert ceilings[4] == timedelta(hours=4)
    assert backoff_delay(5, rng=Lowest()) == timedelta(seconds=1)


def test_a_receiver_that_fails_for_a_while_gets_every_event_once_it_recovers(
    endpoint, receiver, clock, django_capture_on_commit_callbacks
):
    receiver.default = (503, b"maintenance", {})
    events = []
    with django_capture_on_commit_callbacks(execute=True):
        for n in range(5):
            events += emit(endpoint.csp, agreement_id=100 + n)
    for _hour in range(6):  # down for a day: every sweep fails
        deliveries_relay_pending(now=later(clock, hours=4, minutes=5))
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"pending"}
    failed_requests = len(receiver.requests)
    assert failed_requests >= 5 * 6
    receiver.default = (204, b"", {})
    assert deliveries_relay_pending(now=later(clock, hours=4, minutes=5)) == 5
    delivered = receiver.requests[failed_requests:]
    assert len(delivered) == 5
    assert {r["headers"]["webhook-id"] for r in delivered} == {e.public_id for e in events}
    for request in delivered:
        assert _verified(endpoint, request)["type"] == "agreement.affirmed"
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"delivered"}
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).failing_since is None


def test_a_receiver_that_never_answers_costs_one_time_out_and_is_retried(
    endpoint, receiver, settings, django_capture_on_commit_callbacks
):
    settings.WEBHOOKS_TIMEOUT_SECONDS = 0.5
    receiver.hang_for(3)
    with django_capture_on_commit_callbacks(execute=True):
        [event] = emit(endpoint.csp)
    attempt = WebhookAttempt.objects.get(delivery__event=event)
    assert attempt.status_code is None and attempt.error == "timed out"
    assert attempt.duration_ms < 2000
    assert WebhookDelivery.objects.get(event=event).status == DeliveryStatus.PENDING


def test_a_redirect_is_not_followed_and_counts_as_a_failure(
    endpoint, receiver, django_capture_on_commit_callbacks
):
    receiver.answer_with(302, headers={"Location": "http://169.254.169.254/latest/meta-data/"})
    with django_capture_on_commit_callbacks(execute=True):
        [event] = emit(endpoint.csp)
    delivery = WebhookDelivery.objects.get(event=event)
    assert delivery.status == DeliveryStatus.PENDING and delivery.last_status_code == 302
    assert "redirects are not followed" in delivery.last_error
    assert len(receiver.requests) == 1


def test_a_delivery_still_failing_when_its_72_hours_end_fails_visibly(
    endpoint, receiver, clock, settings, django_capture_on_commit_callbacks
):
    settings.WEBHOOKS_DISABLE_AFTER_HOURS = 1000  # this test is about the delivery's window
    receiver.default = (500, b"", {})
    with django_capture_on_commit_callbacks(execute=True):
        [event] = emit(endpoint.csp)
    delivery = WebhookDelivery.objects.get(event=event)
    assert delivery.deliver_until == event.occurred_at + timedelta(hours=72)
    while timezone.now() < delivery.deliver_until:
        deliveries_relay_pending(now=later(clock, hours=4, minutes=5))
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED
    assert len(receiver.requests) == delivery.attempts == WebhookAttempt.objects.count()
    attempts_before = len(receiver.requests)
    deliveries_relay_pending(now=later(clock, hours=5))
    assert len(receiver.requests) == attempts_before


def test_an_endpoint_failing_for_72_hours_is_disabled_and_the_csp_is_emailed(
    endpoint, receiver, clock, django_capture_on_commit_callbacks
):
    receiver.default = (500, b"", {})
    with django_capture_on_commit_callbacks(execute=True):
        emit(endpoint.csp)
    for _ in range(19):  # 19 × 4 h 05 min > 72 hours
        deliveries_relay_pending(now=later(clock, hours=4, minutes=5))
    endpoint.refresh_from_db()
    assert endpoint.disabled_at is not None
    assert "failed for 72 hours" in endpoint.disabled_reason
    [email] = OutboundEmail.objects.filter(kind="webhook_endpoint_disabled")
    assert email.to_address == endpoint.csp.contact_email
    assert f"webhook endpoint {endpoint.pk}" in email.body_text
    assert "/api/v1/events/?after=" in email.body_text and "/api/v1/events/" in email.body_html
    assert "source=portal" not in email.body_text  # the URL's query is not repeated
    # Nothing more is queued for it or sent to it.
    requests_before = len(receiver.requests)
    with django_capture_on_commit_callbacks(execute=True):
        [later_event] = emit(endpoint.csp)
    deliveries_relay_pending(now=later(clock, hours=1))
    assert not WebhookDelivery.objects.filter(event=later_event).exists()
    assert len(receiver.requests) == requests_before


def test_a_success_in_between_keeps_the_endpoint_enabled(
    endpoint, receiver, clock, django_capture_on_commit_callbacks
):
    receiver.default = (500, b"", {})
    with django_capture_on_commit_callbacks(execute=True):
        emit(endpoint.csp)
    later(clock, hours=40)
    receiver.answer_with(200)
    with django_capture_on_commit_callbacks(execute=True):
        emit(endpoint.csp, agreement_id=50)
    for _ in range(12):
        deliveries_relay_pending(now=later(clock, hours=4, minutes=5))
    endpoint.refresh_from_db()
    assert endpoint.disabled_at is None
    assert not OutboundEmail.objects.filter(kind="webhook_endpoint_disabled").exists()


def test_a_deleted_endpoint_is_sent_nothing_more(
    endpoint, receiver, clock, django_capture_on_commit_callbacks
):
    from webhooks.services import endpoint_delete

    receiver.answer_with(500)
    with django_capture_on_commit_callbacks(execute=True):
        [event] = emit(endpoint.csp)
    endpoint_delete(endpoint=endpoint, now=timezone.now())
    deliveries_relay_pending(now=later(clock, hours=5))
    assert len(receiver.requests) == 1
    assert WebhookDelivery.objects.get(event=event).status == DeliveryStatus.CANCELLED


def test_sending_a_delivered_row_again_does_nothing(
    endpoint, receiver, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        [event] = emit(endpoint.csp)
    delivery = WebhookDelivery.objects.get(event=event)
    assert delivery_send(delivery_id=delivery.pk, now=timezone.now()) is False
    assert len(receiver.requests) == 1


def test_the_body_sent_is_the_events_payload_byte_for_byte(
    endpoint, receiver, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        [event] = emit(endpoint.csp)
    assert receiver.requests[0]["body"] == payload_body(event)
