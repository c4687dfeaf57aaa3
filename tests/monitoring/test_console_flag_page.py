"""The red flag's own page: its decisions as buttons, each asking for its reason there;
evidence in words; messages that say only what happened."""

from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from csp_registry.models import CspStatus
from monitoring.models import FlagAction, FlagStatus, RedFlag
from tests.monitoring.conftest import NOW
from tests.monitoring.test_console_siblings import detector_flag

pytestmark = pytest.mark.django_db
FLAGS = reverse("admin:monitoring_redflag_changelist")
BUTTONS = ("dismiss", "escalate", "uphold", "suspend_csp", "revoke_csp")


def page_of(flag):
    return reverse("admin:monitoring_redflag_change", args=[flag.pk])


def said(response):
    return [(m.level_tag, m.message) for m in get_messages(response.wsgi_request)]


def buttons_on(html):
    return {name for name in BUTTONS if f'name="decision" value="{name}"' in html}


def test_the_committee_sees_every_decision_as_a_button_with_one_reason_field(
    client, committee_member, active_csp
):
    flag = detector_flag(active_csp)
    client.force_login(committee_member)
    html = client.get(page_of(flag)).content.decode()
    assert buttons_on(html) == set(BUTTONS)
    assert html.count('name="reason"') == 1
    assert '<label for="id_decision_reason">Reason</label>' in html


def test_an_auditor_sees_no_button_and_a_posted_decision_is_refused(client, auditor,
                                                                     active_csp):  # fmt: skip
    flag = detector_flag(active_csp)
    client.force_login(auditor)
    page = client.get(page_of(flag))
    assert page.status_code == 200 and buttons_on(page.content.decode()) == set()
    for name in BUTTONS:
        response = client.post(page_of(flag), {"decision": name, "reason": "trying"})
        assert response.status_code == 403, name
    active_csp.refresh_from_db()
    assert active_csp.status == CspStatus.ACTIVE and not FlagAction.objects.exists()


def test_a_reviewer_without_enforcement_sees_only_the_review_buttons(client, committee_member,
                                                                     active_csp):  # fmt: skip
    from django.contrib.auth.models import Permission

    reviewer = type(committee_member).objects.create(username="rita-review", is_staff=True)
    reviewer.user_permissions.add(*Permission.objects.filter(
        codename__in=["view_redflag", "review_redflag"]))  # fmt: skip
    flag = detector_flag(active_csp)
    client.force_login(reviewer)
    assert buttons_on(client.get(page_of(flag)).content.decode()) == {
        "dismiss", "escalate", "uphold",
    }  # fmt: skip
    refused = client.post(page_of(flag), {"decision": "suspend_csp", "reason": "trying"})
    assert refused.status_code == 403
    active_csp.refresh_from_db()
    assert active_csp.status == CspStatus.ACTIVE


def test_the_page_names_the_flags_a_suspension_would_also_close(client, committee_member,
                                                                active_csp, other_csp):  # fmt: skip
    flag, *siblings = [detector_flag(active_csp, hours) for hours in range(7)]
    detector_flag(other_csp, 1)
    client.force_login(committee_member)
    html = client.get(page_of(flag)).content.decode()
    assert f"Suspending or revoking {active_csp} will also close its 6 other open flags" in html
    for sibling in siblings:
        assert page_of(sibling) in html
    assert "Mass affirmation from one place" in html


def test_suspending_from_the_flag_page_closes_the_flag_and_its_siblings(
    client, committee_member, active_csp
):
    flag, *siblings = [detector_flag(active_csp, hours) for hours in range(7)]
    client.force_login(committee_member)
    response = client.post(page_of(flag), {"decision": "suspend_csp", "reason": "Mass opt-ins"})
    assert response.status_code == 302 and response["Location"] == page_of(flag)
    active_csp.refresh_from_db()
    assert active_csp.status == CspStatus.SUSPENDED
    assert set(RedFlag.objects.values_list("status", flat=True)) == {FlagStatus.ACTIONED}
    assert said(response) == [(
        "success",
        f"Flag {flag.pk} closed; the CSP is suspended; 6 other open flags of {active_csp} closed.",
    )]  # fmt: skip
    action = FlagAction.objects.get(flag=flag)
    assert (action.by, action.reason) == (committee_member, "Mass opt-ins")
    after = client.get(page_of(flag)).content.decode()
    assert buttons_on(after) == {"revoke_csp"}


@pytest.mark.parametrize("name, status", [("dismiss", FlagStatus.DISMISSED),
                                          ("escalate", FlagStatus.ESCALATED),
                                          ("uphold", FlagStatus.UPHELD)])  # fmt: skip
def test_each_review_button_decides_the_flag_alone(client, committee_member, active_csp, name,
                                                   status):  # fmt: skip
    flag, sibling = detector_flag(active_csp, 1), detector_flag(active_csp, 2)
    client.force_login(committee_member)
    response = client.post(page_of(flag), {"decision": name, "reason": "looked at it"})
    assert [level for level, _ in said(response)] == ["success"]
    assert RedFlag.objects.get(pk=flag.pk).status == status
    assert RedFlag.objects.get(pk=sibling.pk).status == FlagStatus.OPEN


def test_a_decision_without_a_reason_changes_nothing_and_says_why(client, committee_member,
                                                                  active_csp):  # fmt: skip
    flag = detector_flag(active_csp)
    client.force_login(committee_member)
    response = client.post(page_of(flag), {"decision": "suspend_csp", "reason": "  "})
    assert said(response) == [("error", "Suspend the CSP: give the reason for your decision.")]
    active_csp.refresh_from_db()
    assert active_csp.status == CspStatus.ACTIVE and not FlagAction.objects.exists()


def test_a_refused_button_shows_only_its_error(client, committee_member, suspended_csp):
    flag = detector_flag(suspended_csp)
    client.force_login(committee_member)
    response = client.post(page_of(flag), {"decision": "suspend_csp", "reason": "again"})
    [(level, message)] = said(response)
    assert level == "error" and "suspend" in message.lower()
    assert RedFlag.objects.get().status == FlagStatus.OPEN


def test_a_refused_list_action_shows_only_its_error(client, committee_member, active_csp):
    flag = detector_flag(active_csp)
    RedFlag.objects.filter(pk=flag.pk).update(status=FlagStatus.DISMISSED)
    client.force_login(committee_member)
    response = client.post(FLAGS, {"action": "dismiss", "_selected_action": [flag.pk],
                                   "apply": "1", "reason": "again"})  # fmt: skip
    [(level, message)] = said(response)
    assert level == "error" and f"Flag {flag.pk} is dismissed" in message


def test_evidence_reads_as_tables_of_words_and_percentages(client, committee_member,
                                                           active_csp):  # fmt: skip
    flag = detector_flag(active_csp, detector="authentication_attempts")
    flag.evidence = {
        "figures": {"per_ip": [{"csp_id": active_csp.pk, "ip": "127.0.0.1", "attempts": 60,
                                "failures": 25, "failure_ratio": 0.4167}],
                    "per_csp": [], "enumeration": []},
        "thresholds": {"max_failure_ratio": 0.3, "max_attempts_per_ip": 1000},
        "samples": [{"id": 7, "created_at": (NOW - timedelta(minutes=5)).isoformat(),
                     "ip": "127.0.0.1", "esi_id": "10443720000000001",
                     "failure_reason": "meter_mismatch"}],
    }  # fmt: skip
    flag.save()
    client.force_login(committee_member)
    html = client.get(page_of(flag)).content.decode()
    assert "[{" not in html and "{&#x27;" not in html and "0.4167" not in html
    assert "41.7%" in html and "30%" in html
    assert "Attempts per IP address" in html and "At most this share failed" in html
    assert "1,000" in html
    assert "2026-11-23 11:55:00 CST" in html  # the sample's time, in Central
    assert '<th scope="col">ESI ID</th>' in html
    assert "Authentication attempts — serves R18" in html


def test_the_flag_list_names_detectors_in_words(client, committee_member, active_csp):
    detector_flag(active_csp, detector="csp_affirms_for_customer")
    client.force_login(committee_member)
    html = client.get(FLAGS).content.decode()
    assert "The CSP affirming for the customer" in html
    assert ">csp_affirms_for_customer<" not in html
    filtered = client.get(FLAGS, {"detector": "csp_affirms_for_customer"})
    assert len(filtered.context["cl"].result_list) == 1


@pytest.mark.parametrize("role, shown", [
    ("committee", set(BUTTONS)), ("liaison", set()), ("auditor", set()),
    ("no role", None), ("superuser", set(BUTTONS)),
])  # fmt: skip
def test_each_role_sees_and_may_press_exactly_its_buttons(
    client, roles, active_csp, django_user_model, role, shown
):
    from monitoring.seed import AUDITOR, COMMITTEE, LIAISON
    from tests.monitoring.conftest import staff_in

    users = django_user_model.objects
    user = {
        "committee": lambda: staff_in(COMMITTEE, "c"), "liaison": lambda: staff_in(LIAISON, "l"),
        "auditor": lambda: staff_in(AUDITOR, "a"),
        "no role": lambda: users.create(username="n", is_staff=True),
        "superuser": lambda: users.create(username="s", is_staff=True, is_superuser=True),
    }[role]()  # fmt: skip
    client.force_login(user)
    flags = {name: detector_flag(active_csp, hours) for hours, name in enumerate(BUTTONS)}
    page = client.get(page_of(flags["dismiss"]))
    if shown is None:
        assert page.status_code == 403
    else:
        assert buttons_on(page.content.decode()) == shown
    for name in ("dismiss", "escalate", "uphold", "suspend_csp"):
        response = client.post(page_of(flags[name]), {"decision": name, "reason": "by role"})
        allowed = bool(shown) and name in shown
        assert response.status_code == (302 if allowed else 403), name
        decided = RedFlag.objects.get(pk=flags[name].pk).status != FlagStatus.OPEN
        assert decided == allowed, name


def test_revoking_asks_once_more_on_a_page_that_says_it_is_final(client, committee_member,
                                                                 active_csp):  # fmt: skip
    flag, sibling = detector_flag(active_csp, 1), detector_flag(active_csp, 2)
    client.force_login(committee_member)
    asked = client.post(page_of(flag), {"decision": "revoke_csp", "reason": "Sold the data"})
    html = asked.content.decode()
    assert asked.status_code == 200 and "This cannot be undone" in html
    assert ">Sold the data</textarea>" in html and page_of(sibling) in html
    active_csp.refresh_from_db()
    assert active_csp.status == CspStatus.ACTIVE and not FlagAction.objects.exists()
    done = client.post(page_of(flag), {"decision": "revoke_csp", "reason": "Sold the data",
                                       "confirmed": "1"})  # fmt: skip
    assert said(done) == [(
        "success",
        f"Flag {flag.pk} closed; the CSP is revoked; 1 other open flag of {active_csp} closed.",
    )]  # fmt: skip
    active_csp.refresh_from_db()
    assert active_csp.status == CspStatus.REVOKED


def test_a_flag_offers_only_the_decisions_its_status_allows(client, committee_member,
                                                            active_csp):  # fmt: skip
    escalated = detector_flag(active_csp, 1, status=FlagStatus.ESCALATED)
    dismissed = detector_flag(active_csp, 2, status=FlagStatus.DISMISSED)
    upheld = detector_flag(active_csp, 3, status=FlagStatus.UPHELD)
    client.force_login(committee_member)
    assert buttons_on(client.get(page_of(escalated)).content.decode()) == set(BUTTONS) - {
        "escalate"
    }
    assert buttons_on(client.get(page_of(dismissed)).content.decode()) == set()
    assert buttons_on(client.get(page_of(upheld)).content.decode()) == {"revoke_csp"}


def test_a_count_named_after_a_ratio_reads_as_a_count_not_a_percentage(
    client, committee_member, active_csp
):
    flag = detector_flag(active_csp, detector="authentication_attempts")
    flag.evidence = {
        "figures": {"per_ip": [], "per_csp": [], "enumeration": []},
        "thresholds": {"max_failure_ratio": 0.3, "min_attempts_for_ratio": 1000},
    }
    flag.save()
    client.force_login(committee_member)
    html = client.get(page_of(flag)).content.decode()
    assert "1,000" in html and "100000%" not in html and "100,000%" not in html
