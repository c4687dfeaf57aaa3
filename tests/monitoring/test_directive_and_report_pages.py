"""Commission directives and customer reports decided on their own admin pages."""

from datetime import date

import pytest
import time_machine
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from csp_registry.models import CspStatus
from monitoring.models import (
    CommissionDirective,
    FlagAction,
    FlagStatus,
    RedFlag,
    ReportOutcome,
)
from monitoring.services import report_submit

from .conftest import NOW

pytestmark = pytest.mark.django_db

CONCLUDED = {"notice_given_on": date(2026, 11, 3), "procedure_concluded_on": date(2026, 11, 20)}


def client_for(user):
    client = Client()
    client.force_login(user)
    return client


def directive(csp, **dates):
    return CommissionDirective.objects.create(
        csp=csp, reference="Docket 47472-A", action="suspend", relaying_tdu="oncor",
        received_on=date(2026, 11, 2), **dates,
    )  # fmt: skip


def said(response):
    return [(m.level_tag, m.message) for m in get_messages(response.wsgi_request)]


# --- Directives -------------------------------------------------------------------------------


def test_the_directive_form_chooses_the_csp_by_name(liaison, active_csp):
    page = client_for(liaison).get(reverse("admin:monitoring_commissiondirective_add"))
    assert page.status_code == 200
    assert "admin-autocomplete" in page.content.decode()
    found = client_for(liaison).get(
        reverse("admin:autocomplete"),
        {"term": active_csp.legal_name[:6], "app_label": "monitoring",
         "model_name": "commissiondirective", "field_name": "csp"},
    )  # fmt: skip
    assert found.json()["results"] == [{"id": str(active_csp.pk), "text": str(active_csp)}]


def test_the_liaison_carries_out_a_directive_from_its_own_page(liaison, active_csp):
    order = directive(active_csp, **CONCLUDED)
    url = reverse("admin:monitoring_commissiondirective_change", args=[order.pk])
    client = client_for(liaison)
    assert 'name="_carry_out"' in client.get(url).content.decode()

    with time_machine.travel(NOW, tick=False):
        response = client.post(url, {"_carry_out": "1"})

    assert response.status_code == 302
    active_csp.refresh_from_db()
    assert active_csp.status == CspStatus.SUSPENDED
    order.refresh_from_db()
    # NOW is 12:00 Central in November: the outcome says so, not 18:00 UTC.
    assert order.outcome == "Suspend carried out 2026-11-23 12:00 CST."
    assert said(response) == [("success", f"Directive Docket 47472-A: {order.outcome}")]


def test_a_refused_directive_says_only_why(liaison, active_csp):
    order = directive(active_csp)  # no notice or procedure dates yet
    url = reverse("admin:monitoring_commissiondirective_change", args=[order.pk])

    response = client_for(liaison).post(url, {"_carry_out": "1"})

    [(level, message)] = said(response)
    assert level == "error" and "notice" in message
    active_csp.refresh_from_db()
    assert active_csp.status == CspStatus.ACTIVE


def test_a_refused_directive_in_the_list_action_shows_no_success_message(liaison, active_csp):
    order = directive(active_csp)
    response = client_for(liaison).post(
        reverse("admin:monitoring_commissiondirective_changelist"),
        {"action": "carry_out", "_selected_action": [order.pk]},
    )
    assert [level for level, _ in said(response)] == ["error"]


def test_the_committee_sees_no_carry_out_button_and_cannot_post_one(committee_member, active_csp):
    order = directive(active_csp, **CONCLUDED)
    url = reverse("admin:monitoring_commissiondirective_change", args=[order.pk])
    client = client_for(committee_member)
    assert "_carry_out" not in client.get(url).content.decode()
    assert client.post(url, {"_carry_out": "1"}).status_code == 403
    active_csp.refresh_from_db()
    assert active_csp.status == CspStatus.ACTIVE


# --- Customer reports -------------------------------------------------------------------------


def a_report(csp, ip="203.0.113.5"):
    return report_submit(csp=csp, category="altering", description="changed", now=NOW, ip=ip)


@pytest.mark.parametrize(
    "decision, outcome, status",
    [("uphold", ReportOutcome.UPHELD, FlagStatus.UPHELD),
     ("dismiss", ReportOutcome.NOT_UPHELD, FlagStatus.DISMISSED)],
)  # fmt: skip
def test_the_committee_decides_a_report_on_its_own_page(
    committee_member, active_csp, decision, outcome, status
):
    report = a_report(active_csp)
    url = reverse("admin:monitoring_customerreport_change", args=[report.pk])
    client = client_for(committee_member)
    assert 'value="uphold"' in client.get(url).content.decode()

    response = client.post(url, {"decision": decision, "reason": "Checked with the customer"})

    assert response.status_code == 302
    report.refresh_from_db()
    assert report.outcome == outcome
    flag = RedFlag.objects.get(report=report)
    assert flag.status == status
    action = FlagAction.objects.get(flag=flag)
    assert (action.by, action.reason) == (committee_member, "Checked with the customer")
    assert [level for level, _ in said(response)] == ["success"]


def test_a_report_that_joined_another_reports_flag_is_decided_through_that_flag(
    committee_member, active_csp
):
    first, second = a_report(active_csp), a_report(active_csp)
    assert not RedFlag.objects.filter(report=second).exists()
    url = reverse("admin:monitoring_customerreport_change", args=[second.pk])

    client_for(committee_member).post(url, {"decision": "uphold", "reason": "Both founded"})

    first.refresh_from_db(), second.refresh_from_db()
    assert first.outcome == second.outcome == ReportOutcome.UPHELD


def test_a_report_decision_needs_a_reason(committee_member, active_csp):
    report = a_report(active_csp)
    url = reverse("admin:monitoring_customerreport_change", args=[report.pk])
    response = client_for(committee_member).post(url, {"decision": "uphold", "reason": " "})
    assert [level for level, _ in said(response)] == ["error"]
    report.refresh_from_db()
    assert report.outcome == ReportOutcome.PENDING


def test_the_liaison_and_auditors_cannot_decide_a_report(liaison, auditor, active_csp):
    report = a_report(active_csp)
    url = reverse("admin:monitoring_customerreport_change", args=[report.pk])
    for user in (liaison, auditor):
        client = client_for(user)
        assert 'value="uphold"' not in client.get(url).content.decode()
        assert client.post(url, {"decision": "uphold", "reason": "x"}).status_code == 403
    report.refresh_from_db()
    assert report.outcome == ReportOutcome.PENDING


def test_a_decided_report_offers_no_buttons(committee_member, active_csp):
    report = a_report(active_csp)
    url = reverse("admin:monitoring_customerreport_change", args=[report.pk])
    client = client_for(committee_member)
    client.post(url, {"decision": "dismiss", "reason": "Not founded"})
    assert 'value="uphold"' not in client.get(url).content.decode()
