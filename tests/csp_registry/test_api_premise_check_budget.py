"""The premise-check budget counts premises checked, wherever they are checked:
premise authentication and agreement creation share it, per CSP and per IP; a
request holding more premises than is left is refused whole, nothing checked."""

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import time_machine

from csp_registry.api.errors import ApiError
from csp_registry.api.ratelimits import premise_checks_consume
from csp_registry.models import IdempotencyKey
from monitoring.models import DetectorSetting, PremiseAuthenticationAttempt
from monitoring.services import detectors_run
from tests.factories import make_rep
from tests.monitoring.conftest import NOW, run_detectors
from tests.personas import api_client_for, make_csp

AUTHENTICATE = "/api/v1/premise-authentications/"
AGREEMENTS = "/api/v1/agreements/"

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _frozen_clock():
    # One fixed rate-limit window, inside one detector window.
    with time_machine.travel(NOW - timedelta(minutes=5), tick=False):
        yield


@pytest.fixture(autouse=True)
def _reps(db):
    make_rep("10004")


def _budget(settings, **rates):
    settings.API_RATE_LIMITS = {"default": {}, "premise_authentication": rates}


_serial = iter(range(10**9))


def _guesses(count):
    """``count`` well-formed triples naming premises that do not exist."""
    return [
        {"esi_id": f"10443720{next(_serial):09d}", "meter_number": "M1",
         "rep_certificate_number": "10004"}
        for _ in range(count)
    ]  # fmt: skip


def _agreement(client, count, **extra):
    body = {"premises": _guesses(count), "customer_email": "x@example.com", "term_months": 12}
    return client.post(AGREEMENTS, body, format="json", **extra)


def _authenticate(client, **extra):
    return client.post(AUTHENTICATE, _guesses(1)[0], format="json", **extra)


def _assert_rate_limited(response):
    assert response.status_code == 429, response.content
    error = response.json()["error"]
    assert error["code"] == "rate_limited" and error["fields"] == {}
    assert 1 <= int(response["Retry-After"]) <= 60


def test_the_thirteenth_agreement_of_200_premises_is_refused_before_the_budget_is_exceeded(
    settings, csp_api
):
    _budget(settings, csp="2400/m")
    statuses = [_agreement(csp_api, 200).status_code for _ in range(12)]
    assert statuses == [422] * 12  # checked: authentication_failed
    assert PremiseAuthenticationAttempt.objects.count() == 2400

    _assert_rate_limited(_agreement(csp_api, 200))
    assert PremiseAuthenticationAttempt.objects.count() == 2400  # nothing checked


def test_premise_authentication_and_agreements_share_one_budget(settings, csp_api):
    _budget(settings, csp="10/m")
    assert [_authenticate(csp_api).status_code for _ in range(9)] == [200] * 9

    _assert_rate_limited(_agreement(csp_api, 2))
    assert PremiseAuthenticationAttempt.objects.count() == 9

    assert _agreement(csp_api, 1).status_code == 422  # the last check left
    _assert_rate_limited(_authenticate(csp_api))
    assert PremiseAuthenticationAttempt.objects.count() == 10


def test_a_refused_request_gives_its_premises_back(settings, csp_api):
    _budget(settings, csp="5/m")
    _assert_rate_limited(_agreement(csp_api, 6))  # more than the whole budget
    assert [_agreement(csp_api, 1).status_code for _ in range(5)] == [422] * 5
    _assert_rate_limited(_authenticate(csp_api))
    assert PremiseAuthenticationAttempt.objects.count() == 5


def test_one_csps_budget_does_not_touch_another_csps(settings, csp_api, other_csp_api):
    _budget(settings, csp="3/m")
    assert _agreement(csp_api, 3).status_code == 422
    _assert_rate_limited(_authenticate(csp_api))
    assert _agreement(other_csp_api, 3).status_code == 422


def test_the_budget_is_per_ip_too_across_csps(settings, csp_api, other_csp_api):
    _budget(settings, ip="4/m")
    assert _agreement(csp_api, 3, REMOTE_ADDR="198.51.100.1").status_code == 422
    _assert_rate_limited(_agreement(other_csp_api, 2, REMOTE_ADDR="198.51.100.1"))
    assert _authenticate(other_csp_api, REMOTE_ADDR="198.51.100.1").status_code == 200
    assert _agreement(other_csp_api, 2, REMOTE_ADDR="198.51.100.2").status_code == 422
    assert PremiseAuthenticationAttempt.objects.count() == 6


def test_addresses_of_one_ipv6_slash_64_share_the_ip_budget(settings, csp_api):
    _budget(settings, ip="3/m")
    assert _agreement(csp_api, 3, REMOTE_ADDR="2001:db8:7:1::1").status_code == 422
    _assert_rate_limited(_authenticate(csp_api, REMOTE_ADDR="2001:db8:7:1:ffff::2"))
    assert _authenticate(csp_api, REMOTE_ADDR="2001:db8:7:2::1").status_code == 200


def test_an_idempotent_replay_checks_nothing_and_takes_nothing(settings, csp_api):
    _budget(settings, csp="3/m")
    body = _guesses(1)[0]
    for _ in range(5):
        response = csp_api.post(AUTHENTICATE, body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
        assert response.status_code == 200
    assert PremiseAuthenticationAttempt.objects.count() == 1
    assert _agreement(csp_api, 2).status_code == 422


def test_an_invalid_request_takes_nothing_from_the_budget(settings, csp_api):
    _budget(settings, csp="2/m")
    for _ in range(3):
        response = csp_api.post(AGREEMENTS, {"premises": _guesses(2)}, format="json")
        assert response.status_code == 400
    assert _agreement(csp_api, 2).status_code == 422


def test_with_the_cache_down_an_agreement_is_503_and_nothing_is_checked(settings, cache_down):
    client = api_client_for(make_csp())
    _budget(settings, csp="100/m")
    response = _agreement(client, 3, HTTP_IDEMPOTENCY_KEY="k-1")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "service_unavailable"
    assert not PremiseAuthenticationAttempt.objects.exists()
    assert not IdempotencyKey.objects.exists()


def test_the_authentication_detector_counts_triples_checked_through_agreements(settings, csp_api):
    _budget(settings)
    detectors_run(now=NOW - timedelta(days=30))  # creates the settings rows
    DetectorSetting.objects.filter(name="authentication_attempts").update(thresholds={
        "max_attempts_per_csp": 30, "max_attempts_per_ip": 30, "min_attempts_for_ratio": 1000,
        "max_failure_ratio": 0.3, "min_neighbouring_esi_ids": 1000,
    })  # fmt: skip
    assert _agreement(csp_api, 29, REMOTE_ADDR="198.51.100.9").status_code == 422
    assert run_detectors("authentication_attempts") == []

    assert _authenticate(csp_api, REMOTE_ADDR="198.51.100.9").status_code == 200
    [flag] = run_detectors("authentication_attempts")
    figures = flag.evidence["figures"]
    assert figures["per_csp"][0]["attempts"] == 30  # two requests, thirty triples
    assert figures["per_ip"][0]["ip"] == "198.51.100.9"


def test_concurrent_requests_never_take_more_than_the_budget_together(settings, rf):
    _budget(settings, csp="100/m", ip="1000/m")
    request = rf.post(AGREEMENTS, REMOTE_ADDR="198.51.100.30")
    request.csp = make_csp()
    start = threading.Barrier(20)

    def take_ten():
        start.wait()
        try:
            premise_checks_consume(request, count=10)
        except ApiError as refused:
            assert refused.status_code == 429
            return 0
        return 10

    with ThreadPoolExecutor(max_workers=20) as pool:
        taken = sum(pool.map(lambda _: take_ten(), range(20)))
    assert 0 < taken <= 100
