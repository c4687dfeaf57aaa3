"""Staff see the data-access log per CSP, read-only, as the red flags link to it."""

import io
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from monitoring.seed import AUDITOR, COMMITTEE, LIAISON, seed_reference_data
from tests.monitoring.conftest import staff_in

from .conftest import NOW, TODAY, body_of, opted_in, read, store_days

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen")]
URL = "/admin/data_access/dataaccesslog/"


@pytest.fixture
def reads(tmp_path, csp_api, other_csp_api, active_csp, disclosure, home):
    agreement = opted_in(active_csp, home, disclosure=disclosure)
    store_days(tmp_path, home, TODAY, TODAY)
    body_of(read(csp_api, agreement, esi_id=home.esi_id, start=TODAY, end=TODAY))
    read(other_csp_api, agreement, esi_id=home.esi_id, start=TODAY, end=TODAY)
    return agreement


def signed_in(user):
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize("role", [COMMITTEE, LIAISON, AUDITOR])
def test_every_role_reads_the_log_filtered_by_csp_and_window(reads, active_csp, role):
    seed_reference_data(io.StringIO())
    client = signed_in(staff_in(role, "someone"))
    window = {"created_at__gte": (NOW - timedelta(hours=1)).isoformat(),
              "created_at__lt": (NOW + timedelta(hours=1)).isoformat()}  # fmt: skip

    page = client.get(URL, {"csp__id__exact": active_csp.pk, **window})

    assert page.status_code == 200
    assert page.context["cl"].result_count == 1
    assert client.get(URL, {"q": "not an ip or id"}).status_code == 200
    log_id = page.context["cl"].result_list[0].pk
    assert client.get(f"{URL}{log_id}/change/").status_code == 200  # the view page
    assert client.post(f"{URL}{log_id}/delete/").status_code == 403


def test_staff_in_no_role_see_nothing(reads):
    user = get_user_model().objects.create(username="sam", is_staff=True)
    assert signed_in(user).get(URL).status_code == 403
