"""/providers/: the public register of CSPs that have been active."""

import pytest
from django.utils import timezone

from csp_registry.models import CspStatusChange
from csp_registry.services import csp_reject
from monitoring.models import CustomerReport
from monitoring.services import flag_dismiss, flag_uphold, report_submit
from smt_portal.actors import Actor

pytestmark = pytest.mark.django_db
URL = "/providers/"


def reports(csp, admin_user, *, upheld, dismissed=0, pending=0):
    now = timezone.now()
    for decide, count in ((flag_uphold, upheld), (flag_dismiss, dismissed), (None, pending)):
        for _ in range(count):
            flag = report_submit(csp=csp, category="other", description="x", now=now).flag
            if decide:
                decide(flag=flag, actor=Actor.staff(admin_user), reason="reviewed", now=now)


def test_the_register_lists_csps_that_have_been_active_with_upheld_reports(
    client, active_csp, suspended_csp, pending_csp, revoked_csp, admin_user
):
    CspStatusChange.objects.create(csp=revoked_csp, to_status="active", changed_at=timezone.now())
    reports(active_csp, admin_user, upheld=2, dismissed=1, pending=1)
    response = client.get(URL)
    rows = {csp.pk: csp for csp in response.context["providers"]}
    assert set(rows) == {active_csp.pk, suspended_csp.pk, revoked_csp.pk}
    assert rows[active_csp.pk].upheld_reports == 2 and rows[suspended_csp.pk].upheld_reports == 0
    html = response.content.decode()
    assert "Energy efficiency advice." in html and "Suspended" in html
    assert pending_csp.legal_name not in html
    assert CustomerReport.objects.count() == 4


def test_a_rejected_applicant_is_never_listed(client, pending_csp, admin_user):
    csp_reject(
        csp=pending_csp, now=timezone.now(), reason="incomplete", actor=Actor.staff(admin_user)
    )
    pending_csp.refresh_from_db()
    assert pending_csp.status == "revoked"
    assert list(client.get(URL).context["providers"]) == []


def test_the_register_is_in_spanish(client, suspended_csp):
    html = client.get(URL, {"lang": "es"}).content.decode()
    assert "Proveedores registrados" in html and "Suspendido" in html


def test_the_register_takes_a_fixed_number_of_queries(
    client, django_assert_max_num_queries, active_csp, other_csp, admin_user
):
    reports(active_csp, admin_user, upheld=1)
    with django_assert_max_num_queries(3):
        client.get(URL)
