"""Creating an agreement takes its rate-limit counters with the premise-check
budget's, in one round trip to Redis (issue 16, H35), refusing as before."""

import os

import pytest
from django.core.cache import cache

from affirmations.models import Agreement
from monitoring.models import PremiseAuthenticationAttempt

from .conftest import premise_json, residential

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("frozen"),
    pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL (a real Redis)"),
]

URL = "/api/v1/agreements/"


@pytest.fixture(autouse=True)
def _clean_counters():
    cache.clear()
    yield
    cache.clear()


def _body():
    return {
        "premises": [premise_json(residential())],
        "customer_email": "jane.customer@example.com",
        "term_months": 12,
    }


def test_a_creation_takes_all_its_counters_in_one_round_trip_and_is_refused_as_before(
    settings, csp_api, round_trips
):
    settings.API_RATE_LIMITS = {
        "default": {"ip": "100/m", "csp": "100/m"},
        "agreements": {"ip": "100/m", "csp": "2/m"},
        "premise_authentication": {"ip": "100/m", "csp": "100/m"},
    }
    assert csp_api.post(URL, _body(), format="json").status_code == 201
    round_trips.clear()  # the script is loaded into Redis once, on first use

    assert csp_api.post(URL, _body(), format="json").status_code == 201
    assert len(round_trips) == 1

    # Past the request limit: refused before anything is written.
    refused = csp_api.post(URL, _body(), format="json")
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limited"
    assert Agreement.objects.count() == 2
    assert PremiseAuthenticationAttempt.objects.count() == 2
    # A list still takes its counters before it reads anything.
    assert csp_api.get(URL).status_code == 429
