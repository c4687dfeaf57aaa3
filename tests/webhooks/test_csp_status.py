"""A suspended CSP's deliveries wait and flow on reinstatement; a revoked CSP gets nothing."""

from datetime import timedelta

import pytest
from django.utils import timezone

from csp_registry.models import CspEvent, EventType
from csp_registry.services import csp_reinstate, csp_revoke, csp_suspend
from smt_portal.actors import Actor
from webhooks.models import DeliveryStatus, WebhookDelivery
from webhooks.services import deliveries_relay_pending, endpoint_create

from .conftest import ALL_TYPES, emit, later

pytestmark = pytest.mark.django_db


def _status_change(change, csp, event_type, now):
    """Run the CSP registry's status change, which emits its event (one, checked)."""
    before = CspEvent.objects.filter(csp=csp, type=event_type).count()
    change(csp=csp, now=now, reason="Committee decision", actor=Actor.system("tests"))
    assert CspEvent.objects.filter(csp=csp, type=event_type).count() == before + 1


def test_a_suspended_csps_deliveries_wait_and_flow_on_reinstatement(
    endpoint, receiver, clock, django_capture_on_commit_callbacks
):
    csp = endpoint.csp
    with django_capture_on_commit_callbacks(execute=True):
        _status_change(csp_suspend, csp, EventType.CSP_SUSPENDED, timezone.now())
    # The CSP is told of its suspension; nothing else goes out while it lasts.
    assert [p["type"] for p in receiver.payloads()] == ["csp.suspended"]
    with django_capture_on_commit_callbacks(execute=True):
        [held] = emit(csp, type=EventType.AGREEMENT_TERM_ENDED)
    for _ in range(30):  # five days: longer than a delivery's 72 hours
        deliveries_relay_pending(now=later(clock, hours=4))
    assert held.public_id not in receiver.ids()
    delivery = WebhookDelivery.objects.get(event=held)
    assert delivery.status == DeliveryStatus.PENDING and delivery.attempts == 0
    reinstated_at = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        _status_change(csp_reinstate, csp, EventType.CSP_REINSTATED, reinstated_at)
    types = [p["type"] for p in receiver.payloads()]
    assert sorted(types[1:]) == ["agreement.term_ended", "csp.reinstated"]
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED
    assert delivery.deliver_until == reinstated_at + timedelta(hours=72)


def test_a_suspended_csps_events_are_queued_for_later(
    endpoint, receiver, django_capture_on_commit_callbacks
):
    csp = endpoint.csp
    csp_suspend(
        csp=csp, now=timezone.now(), reason="Committee decision", actor=Actor.system("tests")
    )
    with django_capture_on_commit_callbacks(execute=True):
        [event] = emit(csp)
    assert WebhookDelivery.objects.get(event=event).status == DeliveryStatus.PENDING
    assert event.public_id not in receiver.ids()


def test_a_revoked_csp_is_sent_nothing(
    endpoint, receiver, clock, django_capture_on_commit_callbacks
):
    csp = endpoint.csp
    receiver.answer_with(500)
    with django_capture_on_commit_callbacks(execute=True):
        [waiting] = emit(csp)
    csp_revoke(csp=csp, now=timezone.now(), reason="Fraud", actor=Actor.system("tests"))
    with django_capture_on_commit_callbacks(execute=True):
        [after] = emit(csp, agreement_id=9)
    deliveries_relay_pending(now=later(clock, hours=5))
    assert receiver.ids() == [waiting.public_id]  # the one attempt before the revocation
    assert WebhookDelivery.objects.get(event=waiting).status == DeliveryStatus.CANCELLED
    assert not WebhookDelivery.objects.filter(event=after).exists()


def test_a_revoked_csps_endpoints_get_no_deliveries_queued(revoked_csp, clock):
    endpoint_create(
        csp=revoked_csp, url="https://hooks.gone.example/x", event_types=ALL_TYPES,
        now=timezone.now(),
    )  # fmt: skip
    emit(revoked_csp)
    assert not WebhookDelivery.objects.exists()
