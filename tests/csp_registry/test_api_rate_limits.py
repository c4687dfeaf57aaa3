"""Rate limits per CSP and per client IP; 429 with Retry-After; 503 when the cache is down."""

import pytest
import time_machine

from csp_registry.models import ApiRequestLog, IdempotencyKey
from monitoring.models import PremiseAuthenticationAttempt
from smt_portal.client_ip import ratelimit_ip_key
from tests.factories import make_premise, make_rep
from tests.personas import api_client_for, make_csp

REPS = "/api/v1/reps/"
AUTHENTICATE = "/api/v1/premise-authentications/"


@pytest.fixture(autouse=True)
def _frozen_clock():
    # One fixed rate-limit window for the whole test.
    with time_machine.travel("2026-03-02T16:00:10+00:00", tick=False):
        yield


@pytest.fixture(autouse=True)
def _reps(db):
    make_rep("10004")


def _limits(settings, **scopes):
    settings.API_RATE_LIMITS = {"default": {}, "premise_authentication": {}, **scopes}


def _facts(premise):
    return {"esi_id": premise.esi_id, "meter_number": "WRONG1", "rep_certificate_number": "10004"}


def test_a_csp_over_its_limit_gets_429_with_retry_after(settings, csp_api):
    _limits(settings, default={"csp": "2/m"})
    assert [csp_api.get(REPS).status_code for _ in range(2)] == [200, 200]
    response = csp_api.get(REPS)
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(response["Retry-After"]) <= 60


def test_one_csps_limit_does_not_touch_another_csp(settings, csp_api, other_csp_api):
    _limits(settings, default={"csp": "1/m"})
    csp_api.get(REPS)
    assert csp_api.get(REPS).status_code == 429
    assert other_csp_api.get(REPS).status_code == 200


def test_an_ip_is_limited_across_csps_and_anonymous_callers(
    settings, csp_api, other_csp_api, anonymous_api
):
    _limits(settings, default={"ip": "2/m"})
    assert csp_api.get(REPS, REMOTE_ADDR="198.51.100.1").status_code == 200
    assert other_csp_api.get(REPS, REMOTE_ADDR="198.51.100.1").status_code == 200
    assert anonymous_api.get(REPS, REMOTE_ADDR="198.51.100.1").status_code == 429
    assert csp_api.get(REPS, REMOTE_ADDR="198.51.100.2").status_code == 200


def test_addresses_of_one_ipv6_slash_64_share_one_ip_limit(settings, csp_api, anonymous_api):
    _limits(settings, default={"ip": "2/m"})
    assert csp_api.get(REPS, REMOTE_ADDR="2001:db8:5:6::1").status_code == 200
    assert anonymous_api.get(REPS, REMOTE_ADDR="2001:db8:5:6:a:b:c:d").status_code == 401
    assert csp_api.get(REPS, REMOTE_ADDR="2001:db8:5:6:ffff::9").status_code == 429
    assert csp_api.get(REPS, REMOTE_ADDR="2001:db8:5:7::1").status_code == 200  # next /64


@pytest.mark.parametrize(
    ("address", "source"),
    [
        ("198.51.100.7", "198.51.100.7"),
        ("::ffff:198.51.100.7", "198.51.100.7"),  # IPv4-mapped: the IPv4 address, not ::/64
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:DB8:1:2::", "2001:db8:1:2::/64"),
    ],
)
def test_ip_limits_key_on_the_ipv4_address_or_the_ipv6_slash_64(rf, address, source):
    assert ratelimit_ip_key("any", rf.get("/", REMOTE_ADDR=address)) == source


def test_premise_authentication_has_its_own_tighter_limit(settings, csp_api):
    _limits(settings, default={"csp": "100/m"}, premise_authentication={"csp": "2/m"})
    premise = make_premise()
    statuses = [
        csp_api.post(AUTHENTICATE, _facts(premise), format="json").status_code for _ in range(3)
    ]
    assert statuses == [200, 200, 429]
    assert csp_api.get(REPS).status_code == 200  # the rest of the API is still open
    assert PremiseAuthenticationAttempt.objects.count() == 2  # the refused one was not attempted


def test_the_default_settings_limit_premise_authentication_more_tightly(settings):
    from django.conf import settings as live

    def per_minute(rate):
        count, _, period = rate.partition("/")
        return int(count) * {"s": 60, "m": 1, "h": 1 / 60, "d": 1 / 1440}[period[-1]]

    limits = live.API_RATE_LIMITS
    assert per_minute(limits["premise_authentication"]["csp"]) < per_minute(
        limits["default"]["csp"]
    )
    assert per_minute(limits["premise_authentication"]["ip"]) < per_minute(limits["default"]["ip"])


def test_with_the_cache_down_the_api_answers_503_and_writes_nothing(db, cache_down):
    csp = make_csp()
    client = api_client_for(csp)
    premise = make_premise()
    response = client.post(AUTHENTICATE, _facts(premise), format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "service_unavailable"
    assert response["Retry-After"]
    assert not PremiseAuthenticationAttempt.objects.exists()
    assert not IdempotencyKey.objects.exists()
    assert csp.api_keys.get().last_used_at is None  # not even the key was touched
    # Only the monitoring record of the refusal itself.
    assert list(ApiRequestLog.objects.values_list("status_code", flat=True)) == [503]


def test_with_the_cache_down_reads_are_503_too(db, cache_down):
    client = api_client_for(make_csp())
    assert client.get(REPS).status_code == 503
