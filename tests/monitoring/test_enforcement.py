"""Decisions on red flags and their enforcement (R20, R21), Commission
directives (R22) and the spam cooldown, end to end through the services."""

from datetime import date, timedelta

import pytest
from django.utils import timezone

from affirmations import services as agreement_services
from affirmations.models import (
    Agreement,
    AgreementStatus,
    Disclosure,
    EndedBy,
    Record,
    RecordEvent,
)
from csp_registry.models import ApiKey, CspStatus
from csp_registry.services import CspTransitionError, csp_suspend
from monitoring.models import (
    CommissionDirective,
    CustomerReport,
    FlagAction,
    FlagStatus,
    MonitoringSettings,
    RedFlag,
)
from monitoring.services import (
    DirectiveNotReady,
    FlagTransitionError,
    csp_enforce_reinstate,
    directive_carry_out,
    flag_dismiss,
    flag_escalate,
    flag_revoke_csp,
    flag_suspend_csp,
    flag_uphold,
    report_submit,
    spam_cooldown_blocks,
)
from outbox.models import OutboundEmail
from smt_portal.actors import Actor
from tests.factories import make_rep
from tests.monitoring.conftest import decide, make_agreement, premises

pytestmark = pytest.mark.django_db
REPS = "/api/v1/reps/"


@pytest.fixture
def now():
    return timezone.now()


@pytest.fixture
def flag(active_csp, now):
    report = report_submit(csp=active_csp, category="selling_sharing",
                           description="sold my data", now=now)  # fmt: skip
    return report.flag


@pytest.fixture(autouse=True)
def _reps(db):
    make_rep("10004")


def mail_to(address):
    return list(OutboundEmail.objects.filter(to_address=address))


# --- Decisions on a flag ------------------------------------------------------------------


def test_dismissing_records_actor_and_reason_and_closes_the_report(flag, admin_user, now):
    flag_dismiss(flag=flag, actor=Actor.staff(admin_user), reason="no evidence of sale", now=now)
    flag.refresh_from_db()
    assert (flag.status, flag.resolved_at) == (FlagStatus.DISMISSED, now)
    action = FlagAction.objects.get(flag=flag)
    assert (action.action, action.by, action.reason) == ("dismiss", admin_user,
                                                         "no evidence of sale")  # fmt: skip
    assert CustomerReport.objects.get().outcome == "not_upheld"


def test_escalating_keeps_the_flag_unresolved_and_it_can_then_be_upheld(flag, admin_user, now):
    flag_escalate(flag=flag, actor=Actor.staff(admin_user), reason="needs the Commission", now=now)
    flag.refresh_from_db()
    assert flag.status == FlagStatus.ESCALATED and flag.resolved_at is None
    flag_uphold(
        flag=flag, actor=Actor.staff(admin_user), reason="confirmed by the customer", now=now
    )
    assert RedFlag.objects.get().status == FlagStatus.UPHELD
    assert CustomerReport.objects.get().outcome == "upheld"
    assert list(FlagAction.objects.values_list("action", flat=True)) == ["escalate", "uphold"]


def test_a_decided_flag_cannot_be_decided_again(flag, admin_user, now):
    flag_dismiss(flag=flag, actor=Actor.staff(admin_user), reason="no", now=now)
    with pytest.raises(FlagTransitionError, match="is dismissed"):
        flag_uphold(flag=flag, actor=Actor.staff(admin_user), reason="second thoughts", now=now)
    assert FlagAction.objects.count() == 1


def test_a_decision_needs_a_reason(flag, admin_user, now):
    with pytest.raises(ValueError):
        flag_dismiss(flag=flag, actor=Actor.staff(admin_user), reason="  ", now=now)


# --- Suspension, end to end ------------------------------------------------------------------


def test_a_suspended_csp_is_refused_at_once_and_notified(csp_api, active_csp, flag,
                                                         admin_user, now):  # fmt: skip
    assert csp_api.get(REPS).status_code == 200
    flag_suspend_csp(flag=flag, actor=Actor.staff(admin_user), reason="Sold customer data", now=now)

    response = csp_api.get(REPS)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "csp_not_active"
    active_csp.refresh_from_db()
    assert active_csp.status == CspStatus.SUSPENDED
    [notice] = mail_to(active_csp.notice_email)
    assert notice.kind == "csp_suspended"
    assert "Sold customer data" in notice.body_text and "Sold customer data" in notice.body_html
    assert "How to respond" in notice.body_text
    assert RedFlag.objects.get().status == FlagStatus.ACTIONED
    assert CustomerReport.objects.get().outcome == "upheld"


def test_a_suspended_csps_pending_link_cannot_be_opted_into(active_csp, flag, admin_user, now):
    disclosure = Disclosure.objects.create(version=1, text_en="…", text_es="…",
                                           published_at=now - timedelta(days=1))  # fmt: skip
    agreement = make_agreement(active_csp, sent_at=now - timedelta(hours=1))
    flag_suspend_csp(flag=flag, actor=Actor.staff(admin_user), reason="inquiry", now=now)
    with pytest.raises(agreement_services.CspNotActive):
        agreement_services.agreement_opt_in(
            agreement=agreement, actor=Actor.customer(ip="198.51.100.1", user_agent="tests"),
            disclosure=disclosure, now=now,
        )  # fmt: skip
    agreement.refresh_from_db()
    assert agreement.status == AgreementStatus.PENDING_AFFIRMATION


def test_a_suspension_from_the_csp_admin_also_sends_the_notice(active_csp, admin_user, now):
    csp_suspend(
        csp=active_csp, now=now, reason="Too many spam reports", actor=Actor.staff(admin_user)
    )
    [notice] = mail_to(active_csp.notice_email)
    assert notice.kind == "csp_suspended"


def test_suspending_an_already_suspended_csp_changes_nothing(suspended_csp, admin_user, now):
    report = report_submit(csp=suspended_csp, category="other", description="x", now=now)
    with pytest.raises(CspTransitionError):
        flag_suspend_csp(flag=report.flag, actor=Actor.staff(admin_user), reason="again", now=now)
    assert RedFlag.objects.get().status == FlagStatus.OPEN  # rolled back together
    assert not OutboundEmail.objects.exists()


def test_reinstating_restores_api_access(csp_api, active_csp, flag, admin_user, now):
    flag_suspend_csp(flag=flag, actor=Actor.staff(admin_user), reason="inquiry", now=now)
    csp_enforce_reinstate(csp=active_csp, actor=Actor.staff(admin_user), reason="cleared", now=now)
    assert csp_api.get(REPS).status_code == 200


# --- Revocation, end to end -------------------------------------------------------------------


def test_a_revoked_csps_agreements_are_all_revoked_with_no_email_to_the_csp(
    csp_api, active_csp, other_csp, flag, admin_user, now
):
    pending = make_agreement(active_csp, email="pat@example.com", premises=premises(1))
    active = decide(make_agreement(active_csp, email="ann@example.com", premises=premises(1)))
    theirs = make_agreement(other_csp, email="zoe@example.com")

    flag_revoke_csp(flag=flag, actor=Actor.staff(admin_user), reason="Sold customer data", now=now)

    statuses = dict(Agreement.objects.values_list("pk", "status"))
    assert statuses[pending.pk] == statuses[active.pk] == AgreementStatus.REVOKED
    assert statuses[theirs.pk] == AgreementStatus.PENDING_AFFIRMATION
    revoked = Record.objects.filter(event=RecordEvent.REVOKED)
    assert sorted(revoked.values_list("agreement_id", flat=True)) == [pending.pk, active.pk]
    assert revoked.first().actor == admin_user.get_username()
    assert [m.to_address for m in OutboundEmail.objects.all()] == ["ann@example.com"]
    assert not mail_to(active_csp.notice_email) and not mail_to(active_csp.contact_email)
    assert not ApiKey.objects.filter(csp=active_csp, revoked_at__isnull=True).exists()
    refused = csp_api.get(REPS)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "csp_not_active"
    active_csp.refresh_from_db()
    assert active_csp.status == CspStatus.REVOKED


def test_a_suspended_csp_can_be_revoked_from_the_same_flag(flag, active_csp, admin_user, now):
    flag_suspend_csp(flag=flag, actor=Actor.staff(admin_user), reason="inquiry", now=now)
    flag_revoke_csp(flag=flag, actor=Actor.staff(admin_user), reason="confirmed", now=now)
    active_csp.refresh_from_db()
    assert active_csp.status == CspStatus.REVOKED
    assert list(FlagAction.objects.values_list("action", flat=True)) == ["suspend", "revoke"]


# --- Commission directives (R22) ----------------------------------------------------------------


def directive(csp, action, **dates):
    return CommissionDirective.objects.create(
        csp=csp, reference="Docket 47472-A", action=action, relaying_tdu="oncor",
        received_on=date(2026, 11, 2), **dates,
    )  # fmt: skip


CONCLUDED = {"notice_given_on": date(2026, 11, 3), "procedure_concluded_on": date(2026, 11, 20)}


@pytest.mark.parametrize(
    "dates",
    [{}, {"notice_given_on": date(2026, 11, 3)}, {"procedure_concluded_on": date(2026, 11, 20)}],
)
def test_a_directive_without_notice_and_procedure_cannot_be_carried_out(
    active_csp, admin_user, now, dates
):
    with pytest.raises(DirectiveNotReady, match="notice"):
        directive_carry_out(
            directive=directive(active_csp, "suspend", **dates),
            actor=Actor.staff(admin_user), now=now,
        )  # fmt: skip
    active_csp.refresh_from_db()
    assert active_csp.status == CspStatus.ACTIVE


def test_a_suspension_directive_suspends_and_notifies_once(active_csp, admin_user, now):
    order = directive(active_csp, "suspend", **CONCLUDED)
    directive_carry_out(directive=order, actor=Actor.staff(admin_user), now=now)
    active_csp.refresh_from_db()
    assert active_csp.status == CspStatus.SUSPENDED
    order.refresh_from_db()
    assert (order.carried_out_at, order.carried_out_by) == (now, admin_user)
    assert order.outcome.startswith("Suspend carried out")
    [change] = active_csp.status_changes.filter(to_status=CspStatus.SUSPENDED)
    assert "Docket 47472-A relayed by Oncor" in change.reason
    assert "notice 2026-11-03, procedure concluded 2026-11-20" in change.reason
    [notice] = mail_to(active_csp.notice_email)
    assert "Docket 47472-A" in notice.body_text and "Oncor" in notice.body_text
    with pytest.raises(DirectiveNotReady, match="already"):
        directive_carry_out(directive=order, actor=Actor.staff(admin_user), now=now)


def test_a_termination_directive_revokes_as_the_commission(active_csp, admin_user, now):
    agreement = make_agreement(active_csp)
    directive_carry_out(directive=directive(active_csp, "terminate", **CONCLUDED),
                        actor=Actor.staff(admin_user), now=now)  # fmt: skip
    agreement.refresh_from_db()
    assert (agreement.status, agreement.ended_by) == (AgreementStatus.REVOKED,
                                                      EndedBy.COMMISSION)  # fmt: skip
    assert Record.objects.get(event=RecordEvent.REVOKED).actor_type == "commission"
    assert not mail_to(active_csp.notice_email)
    active_csp.refresh_from_db()
    assert active_csp.status == CspStatus.REVOKED
    assert CommissionDirective.objects.get().outcome.startswith("Terminate (revoke) carried out")


# --- Spam cooldown ---------------------------------------------------------------


def test_a_spam_report_blocks_the_same_esi_id_for_the_cooldown(active_csp, other_csp, now):
    spammed, fresh = premises(2)
    decide(make_agreement(active_csp, premises=[spammed]), RecordEvent.REPORTED_SPAM,
           at=now - timedelta(days=89))  # fmt: skip
    ids = [spammed.pk, fresh.pk]
    assert spam_cooldown_blocks(csp=active_csp, premise_ids=ids, now=now) == [spammed.pk]
    assert spam_cooldown_blocks(csp=other_csp, premise_ids=ids, now=now) == []
    later = now + timedelta(days=2)
    assert spam_cooldown_blocks(csp=active_csp, premise_ids=ids, now=later) == []


def test_staff_set_the_cooldown_and_an_opt_out_does_not_block(active_csp, now):
    spammed, opted_out = premises(2)
    decide(make_agreement(active_csp, premises=[spammed]), RecordEvent.REPORTED_SPAM,
           at=now - timedelta(days=10))  # fmt: skip
    decide(make_agreement(active_csp, premises=[opted_out], email="o@example.com"),
           RecordEvent.OPTED_OUT, at=now - timedelta(days=1))  # fmt: skip
    MonitoringSettings.objects.update_or_create(pk=1, defaults={"spam_cooldown_days": 7})
    assert spam_cooldown_blocks(csp=active_csp, premise_ids=[spammed.pk, opted_out.pk],
                                now=now) == []  # fmt: skip
