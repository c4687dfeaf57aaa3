"""The agreement's representation built by the database for set-based events (issue 16):
equal to the API's for every shape of agreement, and a sweep's events written by one
INSERT … SELECT with their subscribers told as before."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from affirmations import services
from affirmations.event_sql import agreements_json
from affirmations.events import agreement_representation, agreements_for_representation
from affirmations.models import Agreement, EndedBy
from affirmations.rules import OCCUPANT_CHANGED
from csp_registry import events as csp_events
from csp_registry.models import CspEvent, EventType
from outbox.models import EmailStatus, OutboundEmail
from smt_portal.actors import Actor

from .conftest import (
    DEADLINE,
    NOW,
    large_commercial,
    make_active,
    make_renewable,
    request_agreement,
    residential,
)

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("frozen"),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the SQL twin is PostgreSQL's"),
]

CSP_ACTOR = {"key_prefix": "abcd1234", "ip": "203.0.113.9"}


def _agreements_in_every_shape(csp):
    pending = request_agreement(csp, residential(), large_commercial(), language="es")
    active = make_active(request_agreement(csp, residential()))
    renewing = make_renewable(request_agreement(csp, large_commercial(), term_months=24))
    services.agreement_renewal_request(
        agreement=renewing, customer_email="jane.customer@example.com",
        actor=Actor.csp(csp, **CSP_ACTOR), now=NOW,
    )  # fmt: skip
    ended = request_agreement(csp, residential())
    services.agreement_terminate(
        agreement=ended, ended_by=EndedBy.CSP, reason="Customer asked by phone.",
        actor=Actor.csp(csp, **CSP_ACTOR), now=NOW,
    )  # fmt: skip
    moved_out = make_active(request_agreement(csp, residential()))
    Agreement.objects.filter(pk=moved_out.pk).update(
        status="terminated", ended_at=NOW, ended_by=EndedBy.SYSTEM, end_reason=OCCUPANT_CHANGED
    )
    several = request_agreement(csp, residential(), residential(), large_commercial())
    odd_emails = [
        request_agreement(csp, residential(), email=f"someone{i}@example.com") for i in range(3)
    ]
    for agreement, email in zip(odd_emails, ["a@b@example.com", "x@", "@example.com"], strict=True):
        Agreement.objects.filter(pk=agreement.pk).update(customer_email=email)
    timed_out = request_agreement(csp, residential())
    services.agreements_time_out(now=DEADLINE + timedelta(seconds=1))
    # Whole seconds (no microseconds), a summer offset, and a UTC instant.
    Agreement.objects.filter(pk=active.pk).update(
        created_at=NOW.replace(month=7, microsecond=0), reminder_sent_at=NOW + timedelta(hours=5)
    )
    Agreement.objects.filter(pk=several.pk).update(created_at=NOW.replace(microsecond=120))
    for agreement, status in [(active, EmailStatus.SENT), (several, EmailStatus.FAILED)]:
        OutboundEmail.objects.filter(related_label=f"agreement:{agreement.pk}").update(
            status=status
        )
    return [
        pending.pk, active.pk, renewing.pk, ended.pk, moved_out.pk, several.pk,
        *(a.pk for a in odd_emails), timed_out.pk,
    ]  # fmt: skip


def _python_representations(ids):
    return {a.pk: agreement_representation(a) for a in agreements_for_representation(ids)}


@pytest.mark.parametrize("zone", ["America/Chicago", "UTC", "Asia/Kolkata"])
def test_the_databases_representation_equals_the_apis_for_every_shape(active_csp, zone):
    ids = _agreements_in_every_shape(active_csp)

    with timezone.override(zone):
        expected = _python_representations(ids)
        built = agreements_json(ids)

    assert set(built) == set(ids) == set(expected)
    assert any(r["renewals"] for r in expected.values())
    assert {r["affirmation_email_status"] for r in expected.values()} == {
        "queued", "sent", "failed",
    }  # fmt: skip
    for pk in ids:
        assert list(built[pk]) == sorted(built[pk], key=lambda k: (len(k), k))  # jsonb's order
        assert set(built[pk]) == set(expected[pk])
        assert built[pk] == expected[pk], pk


def test_a_sweeps_events_are_one_insert_and_carry_the_apis_representation(active_csp):
    pending = [request_agreement(active_csp, residential()) for _ in range(3)]
    told = []
    csp_events.events_subscribe(told.append)
    try:
        with CaptureQueriesContext(connection) as queries:
            services.agreements_time_out(now=DEADLINE + timedelta(seconds=1))
    finally:
        csp_events._subscribers.remove(told.append)

    inserts = [q["sql"] for q in queries.captured_queries if "csp_registry_cspevent" in q["sql"]]
    assert len(inserts) == 1 and "jsonb_build_object" in inserts[0]
    [given] = told
    stored = list(CspEvent.objects.filter(agreement_id__in=[a.pk for a in pending]).order_by("id"))
    assert [(e.pk, e.csp_id, e.type, e.agreement_id) for e in given] == [
        (e.pk, e.csp_id, e.type, e.agreement_id) for e in stored
    ]
    assert [e.agreement_id for e in stored] == sorted(a.pk for a in pending)
    assert {e.type for e in stored} == {EventType.AGREEMENT_TIMED_OUT}
    assert given[0].data == stored[0].data  # a subscriber may still read the payload
    expected = _python_representations([a.pk for a in pending])
    for event in stored:
        assert event.data == {"agreement": expected[event.agreement_id]}
        assert event.occurred_at == DEADLINE + timedelta(seconds=1)


def test_the_events_handed_to_subscribers_are_the_stored_rows_with_their_payload_on_demand(
    active_csp,
):
    agreement = request_agreement(active_csp, residential())
    told = []
    csp_events.events_subscribe(told.append)
    try:
        services.agreements_time_out(now=DEADLINE + timedelta(seconds=1))
    finally:
        csp_events._subscribers.remove(told.append)

    [[event]] = told
    stored = CspEvent.objects.get(pk=event.pk)
    assert event == stored and not event._state.adding
    assert event.get_deferred_fields() == {"data"}
    assert (event.csp_id, event.type, event.agreement_id, event.sandbox, event.occurred_at) == (
        stored.csp_id, stored.type, agreement.pk, False, stored.occurred_at,
    )  # fmt: skip
    assert event.data == stored.data and event.public_id == stored.public_id
