"""The authentication attempt log in the admin: visible to staff, never editable."""

from datetime import datetime

import pytest
from django.urls import reverse

from monitoring.admin import CappedCountPaginator
from monitoring.models import PremiseAuthenticationAttempt
from premises.services import premise_authenticate
from smt_portal.calendar import CENTRAL
from tests.factories import make_csp, make_premise

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client, django_user_model):
    # No password: hashing one costs more than the rest of a test.
    user = django_user_model.objects.create(username="staff", is_staff=True, is_superuser=True)
    client.force_login(user)
    return client


NOW = datetime(2026, 11, 16, 9, 30, tzinfo=CENTRAL)
CHANGELIST = reverse("admin:monitoring_premiseauthenticationattempt_changelist")


@pytest.fixture
def attempts():
    premise = make_premise(esi_id="10443720001234567", meter_number="123456789")
    csp = make_csp()
    for meter, ip in [("123456789", "203.0.113.7"), ("000000001", "198.51.100.9")]:
        premise_authenticate(
            esi_id=premise.esi_id,
            meter_number=meter,
            rep_certificate_number="10004",
            csp=csp,
            ip=ip,
            now=NOW,
        )
    return list(PremiseAuthenticationAttempt.objects.order_by("pk"))


def test_staff_can_list_attempts_with_outcome_and_reason(staff_client, attempts):
    response = staff_client.get(CHANGELIST)
    assert response.status_code == 200
    assert b"meter_mismatch" in response.content or b"Meter number is not" in response.content
    assert list(response.context["cl"].result_list) == attempts[::-1]


def test_staff_can_open_an_attempt_read_only(staff_client, attempts):
    page = reverse("admin:monitoring_premiseauthenticationattempt_change", args=[attempts[0].pk])
    response = staff_client.get(page)
    assert response.status_code == 200
    assert b'name="esi_id"' not in response.content  # shown, not an input


def test_attempts_cannot_be_added(staff_client):
    add = reverse("admin:monitoring_premiseauthenticationattempt_add")
    assert staff_client.get(add).status_code == 403


def test_attempts_cannot_be_changed_or_deleted(staff_client, attempts):
    attempt = attempts[1]
    page = reverse("admin:monitoring_premiseauthenticationattempt_change", args=[attempt.pk])
    assert staff_client.post(page, {"failure_reason": "", "authenticated": "on"}).status_code == 403
    delete = reverse("admin:monitoring_premiseauthenticationattempt_delete", args=[attempt.pk])
    assert staff_client.post(delete, {"post": "yes"}).status_code == 403
    attempt.refresh_from_db()
    assert (attempt.authenticated, attempt.failure_reason) == (False, "meter_mismatch")


def test_attempts_are_found_by_exact_ip_and_esi_id(staff_client, attempts):
    by_ip = staff_client.get(CHANGELIST, {"q": "198.51.100.9"}).context["cl"].result_list
    assert list(by_ip) == [attempts[1]]
    by_esi_id = staff_client.get(CHANGELIST, {"q": "1044372-0001234567"}).context["cl"]
    assert list(by_esi_id.result_list) == attempts[::-1]


def test_attempts_can_be_filtered_by_outcome(staff_client, attempts):
    response = staff_client.get(CHANGELIST, {"authenticated__exact": "0"})
    assert list(response.context["cl"].result_list) == [attempts[1]]


def test_the_attempt_count_is_capped_for_a_huge_table(attempts, monkeypatch):
    monkeypatch.setattr(CappedCountPaginator, "CAP", 1)
    paginator = CappedCountPaginator(PremiseAuthenticationAttempt.objects.order_by("pk"), 100)
    assert paginator.count == 1
