"""The admin home says how many red flags are open; the CSP list shows each CSP's
status and open flags in one query."""

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from csp_registry.models import CspStatus
from monitoring.models import CommissionDirective, FlagStatus
from monitoring.seed import LIAISON
from tests.monitoring.conftest import staff_in
from tests.monitoring.test_console_siblings import detector_flag
from tests.personas import make_csp

pytestmark = pytest.mark.django_db
HOME = reverse("admin:index")
CSPS = reverse("admin:csp_registry_csp_changelist")
FLAGS = reverse("admin:monitoring_redflag_changelist")


def test_the_admin_home_counts_open_flags_and_high_ones_with_links(
    client, committee_member, active_csp, other_csp
):
    for hours in range(3):
        detector_flag(active_csp, hours, severity="high")
    detector_flag(other_csp, 1, severity="low")
    detector_flag(other_csp, 2, status=FlagStatus.ESCALATED)
    detector_flag(other_csp, 3, status=FlagStatus.DISMISSED)
    client.force_login(committee_member)
    html = client.get(HOME).content.decode()
    assert f'<a href="{FLAGS}?status__exact=open">4 open red flags</a>' in html
    assert f'(<a href="{FLAGS}?status__exact=open&amp;severity__exact=high">3 high</a>)' in html
    listed = client.get(f"{FLAGS}?status__exact=open&severity__exact=high")
    assert len(listed.context["cl"].result_list) == 3


def test_the_admin_home_says_when_no_flag_is_open(client, auditor):
    client.force_login(auditor)
    assert "No open red flags." in client.get(HOME).content.decode()


def test_staff_who_may_not_view_flags_see_no_banner(client, roles, active_csp,
                                                    django_user_model):  # fmt: skip
    detector_flag(active_csp)
    client.force_login(django_user_model.objects.create(username="sam-staff", is_staff=True))
    html = client.get(HOME).content.decode()
    assert "open red flag" not in html and "No open red flags" not in html


def test_the_csp_list_shows_status_and_open_flags_in_one_query(client, committee_member,
                                                                active_csp):  # fmt: skip
    client.force_login(committee_member)

    def listing():
        with CaptureQueriesContext(connection) as queries:
            response = client.get(CSPS)
        assert response.status_code == 200
        return response, len(queries)

    detector_flag(active_csp, 1)
    _, few = listing()
    for n in range(5):
        csp = make_csp(legal_name=f"Flagged {n} LLC")
        for hours in range(n + 1):
            detector_flag(csp, hours)
    detector_flag(active_csp, 2, status=FlagStatus.DISMISSED)
    response, many = listing()
    assert many == few  # no query per CSP
    rows = {csp.legal_name: csp.open_red_flags for csp in response.context["cl"].result_list}
    assert rows[active_csp.legal_name] == 1 and rows["Flagged 4 LLC"] == 5
    html = response.content.decode()
    assert "open red flags" in html.lower() and "Active" in html
    assert f"{FLAGS}?csp__id__exact={active_csp.pk}&amp;status__exact=open" in html
    ordered = client.get(CSPS, {"o": "-7"})
    assert ordered.status_code == 200


def test_a_refused_csp_action_shows_only_its_error(client, committee_member, suspended_csp):
    client.force_login(committee_member)
    response = client.post(CSPS, {"action": "suspend", "_selected_action": [suspended_csp.pk],
                                  "apply": "1", "reason": "again"})  # fmt: skip
    assert [m.level_tag for m in get_messages(response.wsgi_request)] == ["error"]
    suspended_csp.refresh_from_db()
    assert suspended_csp.status == CspStatus.SUSPENDED


def test_a_directive_that_is_not_ready_shows_only_its_error(client, roles, active_csp):
    from datetime import date

    directive = CommissionDirective.objects.create(
        csp=active_csp, reference="D-2", action="suspend", relaying_tdu="oncor",
        received_on=date(2026, 11, 2),
    )  # fmt: skip
    client.force_login(staff_in(LIAISON, "lou-liaison"))
    response = client.post(reverse("admin:monitoring_commissiondirective_changelist"),
                           {"action": "carry_out", "_selected_action": [directive.pk]})  # fmt: skip
    assert [m.level_tag for m in get_messages(response.wsgi_request)] == ["error"]
