"""Ending agreements: the CSP's termination (API), committee revocations."""

import pytest

from affirmations import services
from affirmations.models import (
    Agreement,
    AgreementStatus,
    EndedBy,
    Record,
    RecordEvent,
    Renewal,
    RenewalKind,
    RenewalStatus,
)
from csp_registry.models import CspStatus
from csp_registry.services import csp_revoke, csp_suspend
from outbox.models import OutboundEmail
from smt_portal.actors import Actor

from .conftest import NOW, make_active, request_agreement, residential

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen")]


def terminate(client, agreement, reason="customer moved"):
    return client.post(
        f"/api/v1/agreements/{agreement.pk}/termination/", {"reason": reason}, format="json"
    )


def test_the_csp_terminates_an_active_agreement_and_the_customer_is_told(csp_api):
    home = residential()
    agreement = make_active(request_agreement(csp_api.csp, home))

    response = terminate(csp_api, agreement)

    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["ended_by"], body["end_reason"]) == (
        "terminated",
        "csp",
        "customer moved",
    )
    assert body["ended_at"] == NOW.isoformat()
    assert not agreement.premises.get().is_open
    notice = OutboundEmail.objects.get(kind="agreement_terminated")
    assert notice.to_address == "jane.customer@example.com"
    assert home.esi_id in notice.body_text
    assert "has ended" in notice.subject
    record = Record.objects.get(event=RecordEvent.TERMINATED)
    assert record.details["from_status"] == "active"
    assert record.details["to_status"] == "terminated"
    assert record.actor_type == "csp"


def test_the_csp_withdraws_a_pending_request_and_a_new_one_is_then_allowed(csp_api):
    home = residential()
    agreement = request_agreement(csp_api.csp, home)

    assert terminate(csp_api, agreement).json()["status"] == "terminated"

    notice = OutboundEmail.objects.get(kind="agreement_terminated")
    assert "withdrawn" in notice.subject
    assert request_agreement(csp_api.csp, home).status == AgreementStatus.PENDING_AFFIRMATION


def test_terminating_twice_is_409_and_changes_nothing(csp_api):
    agreement = request_agreement(csp_api.csp, residential())
    assert terminate(csp_api, agreement).status_code == 200

    response = terminate(csp_api, agreement, reason="again")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "agreement_not_active"
    agreement.refresh_from_db()
    assert agreement.end_reason == "customer moved"
    assert OutboundEmail.objects.filter(kind="agreement_terminated").count() == 1


def test_another_csps_agreement_cannot_be_terminated(csp_api, other_csp_api):
    theirs = request_agreement(other_csp_api.csp, residential())
    assert terminate(csp_api, theirs).status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == AgreementStatus.PENDING_AFFIRMATION


def test_the_committee_ending_one_agreement_revokes_it(active_csp):
    agreement = make_active(request_agreement(active_csp, residential()))
    services.agreement_terminate(
        agreement=agreement,
        ended_by=EndedBy.COMMITTEE,
        reason="red flag",
        actor=Actor.system("committee"),
        now=NOW,
    )
    agreement.refresh_from_db()
    assert agreement.status == AgreementStatus.REVOKED
    assert OutboundEmail.objects.filter(kind="agreement_revoked").count() == 1


def test_ending_an_agreement_cancels_its_pending_renewal(active_csp):
    agreement = make_active(request_agreement(active_csp, residential()))
    renewal = Renewal.objects.create(
        agreement=agreement,
        kind=RenewalKind.FULL_AFFIRMATION,
        customer_email="a@example.com",
        term_months=12,
        requested_at=NOW,
        expires_at=NOW,
    )
    services.agreement_terminate(
        agreement=agreement, ended_by=EndedBy.CUSTOMER, reason="", actor=Actor.customer(), now=NOW
    )
    renewal.refresh_from_db()
    assert renewal.status == RenewalStatus.CANCELLED


def test_revoking_a_csp_revokes_all_its_open_agreements_and_tells_active_customers(
    active_csp, other_csp
):
    pending = request_agreement(active_csp, residential())
    active = make_active(request_agreement(active_csp, residential(), email="ann@example.com"))
    ended = request_agreement(active_csp, residential())
    Agreement.objects.filter(pk=ended.pk).update(status=AgreementStatus.TIMED_OUT)
    theirs = request_agreement(other_csp, residential())

    ids = services.agreements_revoke_for_csp(
        csp=active_csp, actor=Actor.system("committee"), reason="fraud", now=NOW
    )

    assert sorted(ids) == sorted([pending.pk, active.pk])
    statuses = dict(Agreement.objects.values_list("pk", "status"))
    assert statuses[pending.pk] == statuses[active.pk] == AgreementStatus.REVOKED
    assert statuses[ended.pk] == AgreementStatus.TIMED_OUT
    assert statuses[theirs.pk] == AgreementStatus.PENDING_AFFIRMATION
    revoked_mail = OutboundEmail.objects.filter(kind="agreement_revoked")
    assert [m.to_address for m in revoked_mail] == ["ann@example.com"]
    assert Record.objects.filter(event=RecordEvent.REVOKED).count() == 2
    assert not active.premises.get().is_open


def test_the_registry_revoking_a_csp_revokes_its_agreements_in_the_same_step(
    active_csp, admin_user
):
    agreement = request_agreement(active_csp, residential())
    csp_revoke(csp=active_csp, now=NOW, reason="fraud", actor=Actor.staff(admin_user))
    agreement.refresh_from_db()
    assert agreement.status == AgreementStatus.REVOKED
    record = Record.objects.get(event=RecordEvent.REVOKED)
    assert (record.actor_type, record.actor) == ("staff", admin_user.get_username())


def test_a_suspension_leaves_agreements_as_they_are(active_csp, admin_user):
    agreement = request_agreement(active_csp, residential())
    csp_suspend(csp=active_csp, now=NOW, reason="inquiry", actor=Actor.staff(admin_user))
    agreement.refresh_from_db()
    assert agreement.status == AgreementStatus.PENDING_AFFIRMATION
    assert active_csp.status == CspStatus.SUSPENDED
