"""Every status change of an agreement emits exactly one CSP event, in its transaction.

Each transition is driven through its service (decisions, sweeps, endings by
the customer, the CSP and staff, a CSP's revocation, renewals) and the
events are counted: one per agreement and change, of the contract's type,
carrying the agreement as the API shows it.
"""

from datetime import timedelta

import pytest
from django.db import transaction

from affirmations import services
from affirmations.events import agreement_representation, agreements_for_representation
from affirmations.models import Agreement, AgreementStatus, EndedBy
from csp_registry.models import CspEvent, CspStatus, EventType
from csp_registry.services import csp_reinstate, csp_revoke, csp_suspend
from smt_portal.actors import Actor
from smt_portal.calendar import term_end

from .conftest import (
    DEADLINE,
    NOW,
    large_commercial,
    make_active,
    make_renewable,
    request_agreement,
    residential,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen", "disclosure")]
WHO = {"actor": Actor.customer(ip="198.51.100.7", user_agent="Mozilla/5.0 Tests")}
STAFF = Actor.system("committee member")


def events_of(agreement):
    return list(CspEvent.objects.filter(agreement_id=agreement.pk).order_by("pk"))


def only_event(agreement, event_type):
    [event] = events_of(agreement)
    assert event.type == event_type
    assert event.csp_id == agreement.csp_id
    shown = event.data["agreement"]
    assert shown["id"] == agreement.pk
    assert shown["customer_email_masked"] != agreement.customer_email
    assert "customer_email" not in shown
    return shown


def test_creating_a_request_is_not_an_event(active_csp):
    assert events_of(request_agreement(active_csp, residential())) == []


def test_opting_in_emits_agreement_affirmed_with_the_active_agreement(active_csp, disclosure):
    agreement = request_agreement(active_csp, residential())
    services.agreement_opt_in(agreement=agreement, disclosure=disclosure, now=NOW, **WHO)
    shown = only_event(agreement, EventType.AGREEMENT_AFFIRMED)
    assert shown["status"] == AgreementStatus.ACTIVE and shown["term_start"]


@pytest.mark.parametrize(
    "decide, event_type",
    [
        (services.agreement_opt_out, EventType.AGREEMENT_OPTED_OUT),
        (services.agreement_report_spam, EventType.AGREEMENT_REPORTED_SPAM),
    ],
)
def test_declining_emits_its_own_event(active_csp, decide, event_type):
    agreement = request_agreement(active_csp, residential())
    decide(agreement=agreement, now=NOW, **WHO)
    only_event(agreement, event_type)


def test_the_time_out_sweep_emits_one_event_per_agreement(active_csp):
    requests = [request_agreement(active_csp, residential()) for _ in range(3)]
    assert services.agreements_time_out(now=DEADLINE + timedelta(microseconds=1)) == 3
    assert services.agreements_time_out(now=DEADLINE + timedelta(days=1)) == 0
    for agreement in requests:
        assert only_event(agreement, EventType.AGREEMENT_TIMED_OUT)["status"] == "timed_out"


def test_the_term_end_sweep_emits_term_ended(active_csp):
    agreement = make_active(request_agreement(active_csp, residential(), term_months=3))
    services.agreements_end_terms(now=term_end(NOW, 3))
    only_event(agreement, EventType.AGREEMENT_TERM_ENDED)


@pytest.mark.parametrize(
    "ended_by, event_type",
    [
        (EndedBy.CUSTOMER, EventType.AGREEMENT_TERMINATED),
        (EndedBy.CSP, EventType.AGREEMENT_TERMINATED),
        (EndedBy.COMMITTEE, EventType.AGREEMENT_REVOKED),
        (EndedBy.COMMISSION, EventType.AGREEMENT_REVOKED),
    ],
)
def test_ending_an_agreement_emits_terminated_or_revoked(active_csp, ended_by, event_type):
    agreement = make_active(request_agreement(active_csp, residential()))
    services.agreement_terminate(
        agreement=agreement, ended_by=ended_by, reason="test", actor=STAFF, now=NOW
    )
    assert only_event(agreement, event_type)["ended_by"] == ended_by


def test_revoking_a_csp_emits_one_revoked_event_per_open_agreement(active_csp):
    pending = request_agreement(active_csp, residential())
    active = make_active(request_agreement(active_csp, residential()))
    csp_revoke(csp=active_csp, now=NOW, reason="fraud", actor=Actor.system("tests"))
    for agreement in (pending, active):
        only_event(agreement, EventType.AGREEMENT_REVOKED)


def test_a_refused_change_emits_nothing(active_csp):
    agreement = request_agreement(active_csp, residential())
    services.agreement_opt_out(agreement=agreement, now=NOW, **WHO)
    with pytest.raises(services.DecisionAlreadyMade):
        services.agreement_report_spam(agreement=agreement, now=NOW, **WHO)
    assert len(events_of(agreement)) == 1


def test_a_change_rolled_back_leaves_no_event(active_csp):
    agreement = request_agreement(active_csp, residential())
    with pytest.raises(RuntimeError), transaction.atomic():
        services.agreement_opt_out(agreement=agreement, now=NOW, **WHO)
        raise RuntimeError("the request failed after the decision")
    assert events_of(agreement) == []
    assert Agreement.objects.get().status == AgreementStatus.PENDING_AFFIRMATION


def test_renewing_and_declining_a_renewal_emit_their_events(active_csp):
    renewed = make_renewable(request_agreement(active_csp, large_commercial(), term_months=36))
    renewal = services.agreement_renewal_request(
        agreement=renewed, customer_email=renewed.customer_email, actor=STAFF, now=NOW
    )
    services.agreement_renew(renewal=renewal, now=NOW, **WHO)
    assert only_event(renewed, EventType.AGREEMENT_RENEWED)["renewals"][0]["status"] == "renewed"

    declined = make_renewable(request_agreement(active_csp, large_commercial(), term_months=36))
    renewal = services.agreement_renewal_request(
        agreement=declined, customer_email=declined.customer_email, actor=STAFF, now=NOW
    )
    services.agreement_renewal_decline(renewal=renewal, now=NOW, **WHO)
    only_event(declined, EventType.RENEWAL_DECLINED)


def test_a_suspension_and_a_reinstatement_are_csp_events(active_csp):
    csp_suspend(csp=active_csp, now=NOW, reason="under review", actor=Actor.system("tests"))
    csp_reinstate(csp=active_csp, now=NOW, reason="cleared", actor=Actor.system("tests"))
    events = list(CspEvent.objects.filter(csp=active_csp).order_by("pk"))
    assert [e.type for e in events] == [EventType.CSP_SUSPENDED, EventType.CSP_REINSTATED]
    assert events[0].data["csp"]["status"] == CspStatus.SUSPENDED
    assert events[1].data["csp"]["status"] == CspStatus.ACTIVE


def test_the_payload_is_the_apis_representation(active_csp, csp_api):
    agreement = make_active(request_agreement(active_csp, residential()))
    [loaded] = agreements_for_representation([agreement.pk])
    from_api = csp_api.get(f"/api/v1/agreements/{agreement.pk}/").json()
    assert agreement_representation(loaded) == from_api


def test_every_status_has_an_event_that_leads_to_it():
    from affirmations.events import STATUS_OF_EVENT

    final_or_active = set(AgreementStatus.values) - {AgreementStatus.PENDING_AFFIRMATION}
    assert set(STATUS_OF_EVENT.values()) == final_or_active
