"""Registered source ranges (red flag c) and where the client address comes from."""

import pytest
from django.test import RequestFactory

from csp_registry.models import ApiRequestLog
from smt_portal.client_ip import client_ip, forwarded_header_untrusted
from tests.factories import make_rep
from tests.personas import api_client_for, make_csp

REPS = "/api/v1/reps/"


@pytest.fixture
def ranged_api(db):
    make_rep("10004")
    csp = make_csp(
        legal_name="Fenced Data LLC",
        contact_email="ops@fenced.example",
        registered_ip_ranges="203.0.113.0/24\n2001:db8::/32",
    )
    return api_client_for(csp)


def test_a_call_from_inside_the_registered_ranges_is_served(ranged_api):
    assert ranged_api.get(REPS, REMOTE_ADDR="203.0.113.9").status_code == 200
    assert ranged_api.get(REPS, REMOTE_ADDR="2001:db8::7").status_code == 200


def test_a_call_from_outside_is_refused_and_recorded_for_monitoring(ranged_api):
    response = ranged_api.get(REPS, REMOTE_ADDR="198.51.100.4")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "ip_not_registered"
    row = ApiRequestLog.objects.get()
    assert (row.csp, row.ip, row.error_code) == (
        ranged_api.csp,
        "198.51.100.4",
        "ip_not_registered",
    )


def test_a_forged_forwarding_header_does_not_get_a_call_inside_the_ranges(ranged_api):
    response = ranged_api.get(REPS, REMOTE_ADDR="198.51.100.4", HTTP_X_FORWARDED_FOR="203.0.113.9")
    assert response.status_code == 403
    row = ApiRequestLog.objects.get()
    assert row.ip == "198.51.100.4" and row.forwarded_header_untrusted is True


def test_a_csp_without_ranges_is_served_from_anywhere(csp_api):
    assert csp_api.get(REPS, REMOTE_ADDR="198.51.100.4").status_code == 200


def test_without_trusted_proxies_the_address_is_remote_addr(settings):
    settings.TRUSTED_PROXY_COUNT = 0
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="1.2.3.4")
    assert client_ip(request) == "10.0.0.5"
    assert forwarded_header_untrusted(request) is True
    assert forwarded_header_untrusted(RequestFactory().get("/", REMOTE_ADDR="10.0.0.5")) is False


def test_with_one_trusted_proxy_the_address_is_the_last_forwarded_entry(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    request = RequestFactory().get(
        "/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="6.6.6.6, 198.51.100.4"
    )
    assert client_ip(request) == "198.51.100.4"
    # The client prepended 6.6.6.6 itself: recorded as an attempt to choose an address.
    assert forwarded_header_untrusted(request) is True
    honest = RequestFactory().get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.4")
    assert client_ip(honest) == "198.51.100.4" and forwarded_header_untrusted(honest) is False


def test_a_proxy_setting_larger_than_the_header_falls_back_to_remote_addr(settings):
    settings.TRUSTED_PROXY_COUNT = 2
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.4")
    assert client_ip(request) == "10.0.0.1"
