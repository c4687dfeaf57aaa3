"""Every API request leaves one row for monitoring."""

import pytest
import time_machine
from django.db import connection

from csp_registry.models import ApiRequestLog
from tests.factories import make_rep

FROZEN = "2026-03-02T16:00:00+00:00"


@pytest.fixture(autouse=True)
def _reps(db):
    make_rep("10004")


@time_machine.travel(FROZEN, tick=False)
def test_a_successful_call_is_recorded_with_csp_key_prefix_ip_and_time(csp_api):
    csp_api.get("/api/v1/reps/", REMOTE_ADDR="198.51.100.7")
    row = ApiRequestLog.objects.get()
    assert row.csp == csp_api.csp
    assert row.key_prefix == csp_api.key.split("_")[1]
    assert (row.ip, row.method, row.path, row.status_code) == (
        "198.51.100.7",
        "GET",
        "/api/v1/reps/",
        200,
    )
    assert row.created_at.isoformat() == FROZEN and row.error_code == ""
    assert row.forwarded_header_untrusted is False


def test_refusals_are_recorded_with_their_error_code(anonymous_api, suspended_csp_api):
    anonymous_api.get("/api/v1/reps/")
    anonymous_api.get("/api/v1/reps/", HTTP_AUTHORIZATION="Bearer smt_zzzzzzzz_guess")
    suspended_csp_api.get("/api/v1/reps/")
    anonymous_api.get("/api/v1/no-such-thing/")
    rows = list(
        ApiRequestLog.objects.order_by("id").values_list(
            "csp", "key_prefix", "status_code", "error_code"
        )
    )
    assert rows == [
        (None, "", 401, "unauthenticated"),
        (None, "zzzzzzzz", 401, "unauthenticated"),
        (suspended_csp_api.csp.pk, suspended_csp_api.key.split("_")[1], 403, "csp_not_active"),
        (None, "", 404, "not_found"),
    ]


def test_pages_outside_the_api_are_not_recorded(client):
    client.get("/csp/register/")
    assert not ApiRequestLog.objects.exists()


def test_the_log_is_indexed_for_per_csp_and_per_ip_windows():
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, ApiRequestLog._meta.db_table)
    indexed = {tuple(c["columns"]) for c in constraints.values() if c["index"]}
    assert {("csp_id", "created_at"), ("ip", "created_at")} <= indexed
    # Every request writes every index: none the composite already covers.
    assert ("csp_id",) not in indexed


def test_a_call_about_an_agreement_is_logged_with_its_route_and_agreement_id(csp_api):
    csp_api.get("/api/v1/agreements/123456/")  # another CSP's or none: 404, still logged
    row = ApiRequestLog.objects.get()
    assert (row.endpoint, row.agreement_id, row.status_code) == ("api-agreement", 123456, 404)


def test_an_id_no_agreement_can_have_is_logged_without_one(csp_api):
    csp_api.get(f"/api/v1/agreements/{2**70}/")
    row = ApiRequestLog.objects.get()
    assert (row.endpoint, row.agreement_id) == ("api-agreement", None)


def test_an_unknown_path_has_no_route(csp_api):
    csp_api.get("/api/v1/agreements/12/interval-data-typo/")
    row = ApiRequestLog.objects.get()
    assert (row.endpoint, row.agreement_id, row.status_code) == ("", None, 404)
