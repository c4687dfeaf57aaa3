"""The decision services: opt in, opt out, report spam (R6–R8, R13)."""

from datetime import datetime, timedelta

import pytest

from affirmations import services
from affirmations.models import (
    Agreement,
    AgreementPremise,
    AgreementStatus,
    Disclosure,
    EndedBy,
    Record,
    RecordEvent,
)
from csp_registry.models import CspStatus
from outbox.models import OutboundEmail
from smt_portal.actors import Actor
from smt_portal.calendar import CENTRAL

from .conftest import DEADLINE, NOW, request_agreement, residential

pytestmark = pytest.mark.django_db
WHO = {"actor": Actor.customer(ip="198.51.100.7", user_agent="Mozilla/5.0 Tests")}


@pytest.fixture
def agreement(active_csp):
    return request_agreement(active_csp, residential(), term_months=12)


def _opt_in(agreement, disclosure, now=NOW):
    return services.agreement_opt_in(agreement=agreement, disclosure=disclosure, now=now, **WHO)


def test_opting_in_starts_the_term_and_records_who_when_and_which_disclosures(
    agreement, disclosure
):
    result = _opt_in(agreement, disclosure)

    assert result.status == AgreementStatus.ACTIVE
    assert result.affirmed_at == result.decided_at == result.term_start == NOW
    assert result.term_end == datetime(2027, 11, 23, 9, 0, tzinfo=CENTRAL)
    assert result.disclosure == disclosure
    record = Record.objects.get(event=RecordEvent.OPTED_IN)
    assert (record.ip, record.user_agent, record.actor_type) == (
        "198.51.100.7",
        "Mozilla/5.0 Tests",
        "customer",
    )
    assert record.details["disclosure_version"] == disclosure.version
    assert record.details["from_status"] == "pending_affirmation"
    assert AgreementPremise.objects.get().is_open  # still the open agreement for the ESI ID
    receipt = OutboundEmail.objects.get(kind="receipt_opted_in")
    assert record.details["email_id"] == receipt.pk


def test_opting_out_ends_the_request_and_frees_the_premise(agreement):
    result = services.agreement_opt_out(agreement=agreement, now=NOW, **WHO)

    assert result.status == AgreementStatus.OPTED_OUT
    assert (result.decided_at, result.ended_at, result.ended_by) == (NOW, NOW, EndedBy.CUSTOMER)
    assert result.term_start is None and result.affirmed_at is None
    assert not AgreementPremise.objects.get().is_open
    assert Record.objects.get(event=RecordEvent.OPTED_OUT).ip == "198.51.100.7"
    assert OutboundEmail.objects.filter(kind="receipt_opted_out").exists()


def test_reporting_spam_is_recorded_differently_from_opting_out(agreement):
    result = services.agreement_report_spam(agreement=agreement, now=NOW, **WHO)

    assert result.status == AgreementStatus.REPORTED_SPAM
    assert result.decided_at == NOW
    assert not AgreementPremise.objects.get().is_open
    assert Record.objects.filter(event=RecordEvent.REPORTED_SPAM).count() == 1
    assert not Record.objects.filter(event=RecordEvent.OPTED_OUT).exists()
    assert OutboundEmail.objects.filter(kind="receipt_reported_spam").exists()


@pytest.mark.parametrize("second", ["opt_in", "opt_out", "report_spam"])
def test_only_the_first_decision_counts(agreement, disclosure, second):
    _opt_in(agreement, disclosure)
    with pytest.raises(services.DecisionAlreadyMade):
        if second == "opt_in":
            _opt_in(agreement, disclosure)
        else:
            getattr(services, f"agreement_{second}")(agreement=agreement, now=NOW, **WHO)
    assert Agreement.objects.get().status == AgreementStatus.ACTIVE
    assert Record.objects.filter(event__in=["opted_in", "opted_out", "reported_spam"]).count() == 1


def test_a_decision_after_the_deadline_is_refused_even_before_the_sweep(agreement, disclosure):
    late = DEADLINE + timedelta(microseconds=1)
    with pytest.raises(services.RequestTimedOut):
        _opt_in(agreement, disclosure, now=late)
    with pytest.raises(services.RequestTimedOut):
        services.agreement_opt_out(agreement=agreement, now=late, **WHO)
    assert Agreement.objects.get().status == AgreementStatus.PENDING_AFFIRMATION


def test_a_decision_at_the_last_instant_counts(agreement, disclosure):
    assert _opt_in(agreement, disclosure, now=DEADLINE).status == AgreementStatus.ACTIVE


@pytest.mark.parametrize("status", [CspStatus.SUSPENDED, CspStatus.REVOKED])
def test_a_provider_that_is_not_active_cannot_be_opted_into(agreement, disclosure, status):
    agreement.csp.status = status
    agreement.csp.save()
    with pytest.raises(services.CspNotActive):
        _opt_in(agreement, disclosure)
    assert Agreement.objects.get().status == AgreementStatus.PENDING_AFFIRMATION


def test_a_suspended_provider_can_still_be_refused(agreement):
    agreement.csp.status = CspStatus.SUSPENDED
    agreement.csp.save()
    assert services.agreement_opt_out(agreement=agreement, now=NOW, **WHO).status == "opted_out"


def test_only_the_current_disclosures_can_be_acknowledged(agreement, disclosure):
    Disclosure.objects.create(version=4, text_en="new", text_es="nuevo", published_at=NOW)
    with pytest.raises(services.DisclosureOutdated):
        _opt_in(agreement, disclosure)
    assert Agreement.objects.get().status == AgreementStatus.PENDING_AFFIRMATION


def test_the_term_end_sweep_emails_a_receipt_per_agreement_without_a_query_per_agreement(
    active_csp, disclosure, django_assert_max_num_queries
):
    agreements = [request_agreement(active_csp, residential(), term_months=1) for _ in range(6)]
    for agreement in agreements:
        _opt_in(agreement, disclosure)
    later = NOW + timedelta(days=40)

    # Six agreements: a fixed number of queries plus one insert per email row.
    with django_assert_max_num_queries(20 + len(agreements)):
        assert services.agreements_end_terms(now=later) == 6

    receipts = OutboundEmail.objects.filter(kind="receipt_term_ended")
    assert receipts.count() == 6
    assert Agreement.objects.filter(status=AgreementStatus.TERM_ENDED).count() == 6
