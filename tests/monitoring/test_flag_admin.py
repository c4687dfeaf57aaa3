"""Red flags, directives and the dashboard in the admin, for each role."""

from datetime import date, timedelta

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from csp_registry.models import CspStatus
from monitoring.models import CommissionDirective, FlagAction, FlagStatus, RedFlag
from monitoring.services import flag_dismiss, report_submit
from smt_portal.actors import Actor
from tests.monitoring.conftest import NOW, decided, run_detectors

pytestmark = pytest.mark.django_db
FLAGS = reverse("admin:monitoring_redflag_changelist")
DIRECTIVES = reverse("admin:monitoring_commissiondirective_changelist")
DASHBOARD = "/admin/monitoring/dashboard/"


def logged_in(client, user):
    client.force_login(user)
    return client


def report(csp, when=None):
    return report_submit(csp=csp, category="altering", description="changed my readings",
                         now=when or timezone.now()).flag  # fmt: skip


def act(client, action, flags, **extra):
    data = {"action": action, "_selected_action": [f.pk for f in flags], **extra}
    return client.post(FLAGS, data)


def test_flags_are_listed_open_first(client, committee_member, active_csp, admin_user):
    now = timezone.now()
    older_open = report(active_csp, now - timedelta(days=2))
    dismissed = report(active_csp, now)
    flag_dismiss(flag=dismissed, actor=Actor.staff(admin_user), reason="duplicate", now=now)
    newer_open = report(active_csp, now - timedelta(days=1))
    response = logged_in(client, committee_member).get(FLAGS)
    assert list(response.context["cl"].result_list) == [newer_open, older_open, dismissed]


def test_a_flags_page_shows_its_evidence_and_links_to_the_rows(client, committee_member,
                                                               active_csp):  # fmt: skip
    decided(active_csp, 10)
    [flag] = run_detectors("mass_affirmation_one_source", now=NOW)
    page = logged_in(client, committee_member).get(
        reverse("admin:monitoring_redflag_change", args=[flag.pk])
    )
    html = page.content.decode()
    assert page.status_code == 200
    assert "198.51.100.10" in html and "At least decisions per IP address" in html
    sample = flag.evidence["samples"][0]["id"]
    assert reverse("admin:affirmations_record_change", args=[sample]) in html
    link = flag.evidence["links"][0]["url"]
    assert link.replace("&", "&amp;") in html
    rows = client.get(link)
    assert rows.status_code == 200 and len(rows.context["cl"].result_list) == 10


def test_the_committee_suspends_a_csp_from_a_flag_with_a_reason(client, committee_member,
                                                                 active_csp):  # fmt: skip
    flag = report(active_csp)
    logged_in(client, committee_member)
    confirm = act(client, "suspend_csp", [flag])
    assert confirm.status_code == 200 and b'name="reason"' in confirm.content
    act(client, "suspend_csp", [flag], apply="1", reason="Altered meter data")
    active_csp.refresh_from_db()
    assert active_csp.status == CspStatus.SUSPENDED
    action = FlagAction.objects.get()
    assert (action.by, action.reason) == (committee_member, "Altered meter data")


def test_the_committee_dismisses_escalates_and_revokes(client, committee_member, active_csp,
                                                       other_csp):  # fmt: skip
    first, second, third = report(active_csp), report(active_csp), report(other_csp)
    logged_in(client, committee_member)
    act(client, "dismiss", [first], apply="1", reason="not a CSP matter")
    act(client, "escalate", [second], apply="1", reason="needs legal")
    act(client, "revoke_csp", [third], apply="1", reason="confirmed sale of data")
    statuses = dict(RedFlag.objects.values_list("pk", "status"))
    assert statuses == {first.pk: FlagStatus.DISMISSED, second.pk: FlagStatus.ESCALATED,
                        third.pk: FlagStatus.ACTIONED}  # fmt: skip
    other_csp.refresh_from_db()
    assert other_csp.status == CspStatus.REVOKED


def test_an_auditor_reads_flags_but_cannot_suspend_anyone(client, auditor, active_csp):
    flag = report(active_csp)
    logged_in(client, auditor)
    listing = client.get(FLAGS)
    assert listing.status_code == 200
    offered = {name for name, _ in listing.context["cl"].model_admin.get_action_choices(
        listing.wsgi_request)}  # fmt: skip
    assert not offered & {"suspend_csp", "revoke_csp", "dismiss"}
    assert client.get(reverse("admin:monitoring_redflag_change", args=[flag.pk])).status_code == 200
    act(client, "suspend_csp", [flag], apply="1", reason="trying")
    active_csp.refresh_from_db()
    assert active_csp.status == CspStatus.ACTIVE
    assert RedFlag.objects.get().status == FlagStatus.OPEN


def test_an_auditor_reads_the_records_behind_flags(client, auditor):
    logged_in(client, auditor)
    for name in ("affirmations_record", "csp_registry_apirequestlog",
                 "monitoring_premiseauthenticationattempt", "monitoring_commissiondirective",
                 "monitoring_customerreport"):  # fmt: skip
        assert client.get(reverse(f"admin:{name}_changelist")).status_code == 200, name
    assert client.get(reverse("admin:monitoring_commissiondirective_add")).status_code == 403


def test_a_liaison_records_and_carries_out_a_directive(client, liaison, active_csp):
    logged_in(client, liaison)
    added = client.post(reverse("admin:monitoring_commissiondirective_add"), {
        "csp": active_csp.pk, "reference": "Docket 99999", "action": "suspend",
        "relaying_tdu": "tnmp", "received_on": "2026-11-02", "notice_given_on": "2026-11-03",
        "procedure_concluded_on": "2026-11-20", "notes": "",
    })  # fmt: skip
    assert added.status_code == 302
    order = CommissionDirective.objects.get()
    assert order.recorded_by == liaison
    client.post(DIRECTIVES, {"action": "carry_out", "_selected_action": [order.pk]})
    active_csp.refresh_from_db()
    assert active_csp.status == CspStatus.SUSPENDED


def test_the_committee_cannot_carry_out_a_directive(client, committee_member, active_csp):
    order = CommissionDirective.objects.create(
        csp=active_csp, reference="D-1", action="terminate", relaying_tdu="oncor",
        received_on=date(2026, 11, 2), notice_given_on=date(2026, 11, 3),
        procedure_concluded_on=date(2026, 11, 4),
    )  # fmt: skip
    logged_in(client, committee_member)
    client.post(DIRECTIVES, {"action": "carry_out", "_selected_action": [order.pk]})
    active_csp.refresh_from_db()
    assert active_csp.status == CspStatus.ACTIVE


def test_the_dashboard_shows_charts_and_a_table(client, auditor, active_csp):
    decided(active_csp, 3)
    # The decisions are written at the fixed NOW; the dashboard's 12 weeks end today.
    with time_machine.travel(NOW + timedelta(hours=1), tick=False):
        response = logged_in(client, auditor).get(DASHBOARD)
    html = response.content.decode()
    assert response.status_code == 200
    assert html.count('<svg xmlns="http://www.w3.org/2000/svg" viewBox') == 4
    assert "<table>" in html and "Open red flags at the end of each week" in html
    weeks = response.context["weeks"]
    assert len(weeks) == 12 and sum(week.opt_in for week in weeks) == 3
    with time_machine.travel(NOW + timedelta(hours=1), tick=False):
        per_csp = client.get(DASHBOARD, {"csp": active_csp.pk})
    assert per_csp.context["csp"] == active_csp


def test_the_dashboard_is_refused_to_staff_without_the_permission(client, django_user_model):
    clerk = django_user_model.objects.create(username="clerk", is_staff=True)
    assert logged_in(client, clerk).get(DASHBOARD).status_code == 403


@pytest.mark.parametrize("value", ["x", "999999", "1; DROP TABLE", "-1", "1.5"])
def test_the_dashboard_answers_a_csp_it_cannot_show_with_a_clear_error(
    client, auditor, active_csp, value
):
    response = logged_in(client, auditor).get(DASHBOARD, {"csp": value})
    html = response.content.decode()
    assert response.status_code == 400
    assert "choose a CSP from the list" in html and "Select a valid choice" in html
    assert "Requests per week" not in html and response.context.get("weeks") is None


def test_the_dashboard_offers_every_csp_and_keeps_the_one_chosen(client, auditor, active_csp,
                                                                 other_csp):  # fmt: skip
    response = logged_in(client, auditor).get(DASHBOARD, {"csp": other_csp.pk})
    html = response.content.decode()
    assert response.status_code == 200
    assert f'<option value="{other_csp.pk}" selected>' in html
    assert f'<option value="{active_csp.pk}">' in html
    assert client.get(DASHBOARD, {"csp": ""}).context["csp"] is None


def test_the_dashboard_has_no_pages_that_show_red_flags_under_its_permission(client, active_csp):
    flag = report(active_csp)
    viewer = get_user_model().objects.create(username="dash-only", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_dashboard"))
    logged_in(client, viewer)
    assert client.get(DASHBOARD).status_code == 200
    assert client.get(f"{DASHBOARD}{flag.pk}/change/").status_code == 404
    assert client.get(f"{DASHBOARD}{flag.pk}/history/").status_code == 404
