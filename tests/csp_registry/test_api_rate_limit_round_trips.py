"""All of a request's rate-limit counters go to Redis in one round trip: the
per-IP and per-CSP counters of its default limit and of its scope, and the
premise-check budget's INCRBY, as one Lua script, refusing exactly as before."""

import os

import pytest
import time_machine
from django.core.cache import cache
from django.test import override_settings

from csp_registry.models import ApiRequestLog, IdempotencyKey
from monitoring.models import PremiseAuthenticationAttempt
from tests.factories import make_premise, make_rep
from tests.personas import api_client_for, make_csp

REPS = "/api/v1/reps/"
AUTHENTICATE = "/api/v1/premise-authentications/"
EVERY_COUNTER = {
    "default": {"ip": "100/m", "csp": "100/m"},
    "premise_authentication": {"ip": "100/m", "csp": "100/m"},
}

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL (a real Redis)"),
]


@pytest.fixture(autouse=True)
def _frozen_clock():
    with time_machine.travel("2026-03-02T16:00:10+00:00", tick=False):
        yield


@pytest.fixture(autouse=True)
def _reps(db):
    make_rep("10004")


def _facts(premise, meter="WRONG1"):
    return {"esi_id": premise.esi_id, "meter_number": meter, "rep_certificate_number": "10004"}


def test_a_premise_authentication_takes_all_its_counters_in_one_round_trip(settings, round_trips):
    settings.API_RATE_LIMITS = EVERY_COUNTER
    client = api_client_for(make_csp())
    premise = make_premise()
    assert client.post(AUTHENTICATE, _facts(premise), format="json").status_code == 200
    round_trips.clear()  # the script is loaded into Redis once, on first use
    assert client.post(AUTHENTICATE, _facts(premise), format="json").status_code == 200
    assert len(round_trips) == 1
    # Four counters: the default limit per IP and per CSP (the view's scope is
    # the default), the premise-check budget per IP and per CSP; and the API
    # keys' generation, which the same script returns (csp_registry.key_cache).
    keys = cache._cache.get_client().keys("*")
    assert len(keys) == 5
    assert sum(key.endswith(b"api-keys:generation") for key in keys) == 1


def test_a_read_takes_its_ip_and_csp_counters_in_one_round_trip(settings, round_trips):
    settings.API_RATE_LIMITS = EVERY_COUNTER
    client = api_client_for(make_csp())
    client.get(REPS)
    round_trips.clear()
    assert client.get(REPS).status_code == 200
    assert len(round_trips) == 1


def test_an_invalid_premise_authentication_counts_in_one_round_trip_and_takes_no_checks(
    settings, round_trips
):
    settings.API_RATE_LIMITS = {
        "default": {"csp": "100/m"},
        "premise_authentication": {"csp": "1/m"},
    }
    client = api_client_for(make_csp())
    client.get(REPS)
    round_trips.clear()
    assert client.post(AUTHENTICATE, {"esi_id": "nonsense"}, format="json").status_code == 400
    assert len(round_trips) == 1
    # The budget of one check is still whole: the invalid request took none of it.
    assert client.post(AUTHENTICATE, _facts(make_premise()), format="json").status_code == 200


def test_the_script_refuses_the_request_counter_past_its_limit_with_the_same_429(settings):
    settings.API_RATE_LIMITS = {
        "default": {"csp": "2/m"},
        "premise_authentication": {"csp": "3/m"},
    }
    client = api_client_for(make_csp())
    premise = make_premise()
    statuses = [
        client.post(AUTHENTICATE, _facts(premise), format="json").status_code for _ in range(4)
    ]
    assert statuses == [200, 200, 429, 429]
    response = client.post(AUTHENTICATE, _facts(premise), format="json")
    assert response.json() == {
        "error": {
            "code": "rate_limited",
            "message": "Too many requests; retry after the number of seconds in Retry-After.",
            "fields": {},
        }
    }
    assert 1 <= int(response["Retry-After"]) <= 60
    assert PremiseAuthenticationAttempt.objects.count() == 2
    # The refused requests stopped before the budget: one of its three checks is left.
    settings.API_RATE_LIMITS = {"default": {}, "premise_authentication": {"csp": "3/m"}}
    assert client.post(AUTHENTICATE, _facts(premise), format="json").status_code == 200
    assert client.post(AUTHENTICATE, _facts(premise), format="json").status_code == 429


def test_the_script_gives_every_budget_back_when_one_is_exhausted(settings):
    # The IP's budget has room, the CSP's has not: the IP's is given back.
    settings.API_RATE_LIMITS = {
        "default": {},
        "premise_authentication": {"ip": "3/m", "csp": "1/m"},
    }
    first = api_client_for(make_csp())
    premise = make_premise()
    assert first.post(AUTHENTICATE, _facts(premise), format="json").status_code == 200
    for _ in range(3):
        response = first.post(AUTHENTICATE, _facts(premise), format="json")
        assert response.status_code == 429
        assert "premise-check budget" in response.json()["error"]["message"]
    # The IP took one check and got every refused one back: two are left, for other CSPs.
    others = [api_client_for(make_csp()) for _ in range(3)]
    statuses = [c.post(AUTHENTICATE, _facts(premise), format="json").status_code for c in others]
    assert statuses == [200, 200, 429]
    assert PremiseAuthenticationAttempt.objects.count() == 3


@pytest.mark.parametrize(
    "body",
    [{"esi_id": "nonsense"}, None],
    ids=["an invalid request", "a valid one"],
)
def test_with_redis_down_a_premise_authentication_is_503_and_writes_nothing(body, cache_down):
    csp = make_csp()
    client = api_client_for(csp)
    response = client.post(
        AUTHENTICATE, body or _facts(make_premise()), format="json", HTTP_IDEMPOTENCY_KEY="k-1"
    )
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "service_unavailable"
    assert response["Retry-After"] == "30"
    assert not PremiseAuthenticationAttempt.objects.exists()
    assert not IdempotencyKey.objects.exists()
    assert csp.api_keys.get().last_used_at is None
    assert list(ApiRequestLog.objects.values_list("status_code", flat=True)) == [503]


def test_with_redis_down_a_wrong_key_is_503_too(cache_down):
    response = api_client_for(make_csp(), key="smt_live_nope_wrong").get(REPS)
    assert response.status_code == 503


def test_requests_share_one_registered_script_and_keep_no_redis_client_alive():
    import gc

    import redis as redis_py

    client = api_client_for(make_csp())

    def live_clients():
        gc.collect()
        return sum(issubclass(type(thing), redis_py.Redis) for thing in gc.get_objects())

    with override_settings(API_RATE_LIMITS=EVERY_COUNTER):
        assert client.get(REPS).status_code == 200
        before = live_clients()
        for _ in range(40):
            assert client.get(REPS).status_code == 200
        # Before: one more client kept alive per request (40).
        assert live_clients() - before < 20


def test_requests_reuse_one_redis_client_instead_of_building_one_each(monkeypatch):
    import redis as redis_py

    client = api_client_for(make_csp())
    built = []
    original = redis_py.Redis.__init__

    def counting(self, *args, **kwargs):
        built.append(self)
        original(self, *args, **kwargs)

    assert client.get(REPS).status_code == 200
    monkeypatch.setattr(redis_py.Redis, "__init__", counting)
    for _ in range(10):
        assert client.get(REPS).status_code == 200
    assert built == []  # redis-py fills 169 reply callbacks into every new client
