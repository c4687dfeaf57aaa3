"""Suspending or revoking a CSP through one red flag closes its other open flags."""

from datetime import timedelta

import pytest
from django.db import transaction

from csp_registry.models import CspStatus
from csp_registry.services import CspTransitionError
from monitoring.models import FlagAction, FlagActionKind, FlagStatus, RedFlag, ReportOutcome
from monitoring.services import (
    flag_dismiss,
    flag_escalate,
    flag_revoke_csp,
    flag_siblings,
    flag_suspend_csp,
    report_submit,
)
from smt_portal.actors import Actor
from tests.monitoring.conftest import NOW

pytestmark = pytest.mark.django_db


def detector_flag(csp, hours_ago=0, *, detector="mass_affirmation_one_source", severity="high",
                  status=FlagStatus.OPEN):  # fmt: skip
    start = NOW - timedelta(hours=hours_ago + 1)
    return RedFlag.objects.create(
        csp=csp, detector=detector, kind="a", severity=severity, status=status,
        summary=f"{hours_ago} h ago", window_start=start, window_end=start + timedelta(hours=1),
        evidence={"figures": {"decisions": 12}}, created_at=start, last_seen_at=start,
    )  # fmt: skip


@pytest.fixture
def committee(committee_member):
    return Actor.staff(committee_member)


def test_suspending_through_one_flag_closes_the_csps_other_open_flags_naming_it(
    committee, committee_member, active_csp, other_csp
):
    deciding, *siblings = [detector_flag(active_csp, hours) for hours in range(7)]
    escalated = detector_flag(active_csp, 8, status=FlagStatus.ESCALATED)
    dismissed = detector_flag(active_csp, 9, status=FlagStatus.DISMISSED)
    elsewhere = detector_flag(other_csp, 1)
    assert flag_siblings(deciding).count() == 7

    flag_suspend_csp(flag=deciding, actor=committee, reason="Mass opt-ins", now=NOW)

    active_csp.refresh_from_db()
    assert active_csp.status == CspStatus.SUSPENDED
    statuses = dict(RedFlag.objects.values_list("pk", "status"))
    for flag in [deciding, *siblings, escalated]:
        assert statuses[flag.pk] == FlagStatus.ACTIONED, flag.summary
    assert statuses[dismissed.pk] == FlagStatus.DISMISSED
    assert statuses[elsewhere.pk] == FlagStatus.OPEN
    recorded = FlagAction.objects.exclude(flag=deciding)
    assert sorted(recorded.values_list("flag_id", flat=True)) == sorted(
        f.pk for f in [*siblings, escalated]
    )
    for action in recorded:
        assert (action.action, action.by, action.decided_with, action.created_at) == (
            FlagActionKind.SUSPEND, committee_member, deciding, NOW,
        )  # fmt: skip
        assert action.reason == f"Closed with flag {deciding.pk}: Mass opt-ins"
    assert RedFlag.objects.get(pk=siblings[0].pk).resolved_at == NOW
    assert FlagAction.objects.get(flag=deciding).decided_with is None


def test_revoking_through_a_suspended_flag_closes_the_flags_opened_since(committee, active_csp):
    deciding = detector_flag(active_csp, 1)
    flag_suspend_csp(flag=deciding, actor=committee, reason="first", now=NOW)
    newer = detector_flag(active_csp, 0, detector="csp_affirms_for_customer")
    flag_revoke_csp(flag=deciding, actor=committee, reason="final", now=NOW + timedelta(days=1))
    newer.refresh_from_db()
    assert newer.status == FlagStatus.ACTIONED
    action = FlagAction.objects.get(flag=newer)
    assert (action.action, action.decided_with) == (FlagActionKind.REVOKE, deciding)


def test_a_refused_suspension_closes_no_sibling(committee, suspended_csp):
    deciding, sibling = detector_flag(suspended_csp, 1), detector_flag(suspended_csp, 2)
    with pytest.raises(CspTransitionError), transaction.atomic():
        flag_suspend_csp(flag=deciding, actor=committee, reason="again", now=NOW)
    assert set(RedFlag.objects.values_list("status", flat=True)) == {FlagStatus.OPEN}
    assert not FlagAction.objects.exists()
    assert flag_siblings(deciding).get() == sibling


def test_dismissing_or_escalating_a_flag_leaves_its_siblings_alone(committee, active_csp):
    first, second, third = (detector_flag(active_csp, hours) for hours in range(3))
    flag_dismiss(flag=first, actor=committee, reason="noise", now=NOW)
    flag_escalate(flag=second, actor=committee, reason="legal", now=NOW)
    third.refresh_from_db()
    assert third.status == FlagStatus.OPEN and FlagAction.objects.count() == 2


def test_a_sibling_customer_report_stays_for_someone_to_decide(committee, active_csp):
    deciding = detector_flag(active_csp, 1)
    report = report_submit(csp=active_csp, category="altering", description="changed",
                           now=NOW)  # fmt: skip
    flag_suspend_csp(flag=deciding, actor=committee, reason="Mass opt-ins", now=NOW)
    report.refresh_from_db()
    assert report.flag.status == FlagStatus.ACTIONED
    assert report.outcome == ReportOutcome.PENDING
