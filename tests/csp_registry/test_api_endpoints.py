"""GET /api/v1/reps/ and POST /api/v1/premise-authentications/."""

from datetime import date

import pytest
import time_machine

from monitoring.models import PremiseAuthenticationAttempt
from premises.models import CustomerClass, TermPolicy
from tests.factories import active_meter_number, make_premise, make_rep

AUTHENTICATE = "/api/v1/premise-authentications/"


def test_reps_lists_active_providers_for_the_drop_down(csp_api, django_assert_max_num_queries):
    make_rep("10004", legal_name="TXU ENERGY RETAIL COMPANY LLC")
    make_rep("10166X", legal_name="ACME POWER LLC")
    make_rep("10999", legal_name="CLOSED ENERGY LLC", active=False)
    # The key with its CSP, the key's first-use stamp, the list, the request log.
    with django_assert_max_num_queries(4):
        response = csp_api.get("/api/v1/reps/")
    assert response.json() == [
        {"certificate_number": "10166X", "name": "ACME POWER LLC"},
        {"certificate_number": "10004", "name": "TXU ENERGY RETAIL COMPANY LLC"},
    ]


@pytest.fixture
def premise(db):
    return make_premise(rep=make_rep("10004"))


def _facts(premise, **changes):
    facts = {
        "esi_id": premise.esi_id,
        "meter_number": active_meter_number(premise),
        "rep_certificate_number": "10004",
    }
    return {**facts, **changes}


def test_a_matching_residential_premise_gets_the_standard_term(csp_api, premise):
    response = csp_api.post(AUTHENTICATE, _facts(premise), format="json")
    assert response.status_code == 200
    assert response.json() == {"authenticated": True, "max_term_months": 12}


def test_the_term_comes_from_the_policy_staff_set(csp_api, premise):
    TermPolicy.objects.update_or_create(pk=1, defaults={"standard_max_months": 6})
    assert csp_api.post(AUTHENTICATE, _facts(premise), format="json").json()["max_term_months"] == 6


@time_machine.travel("2026-03-02T16:00:00+00:00", tick=False)
def test_a_large_commercial_premise_gets_36_months(csp_api):
    big = make_premise(
        rep=make_rep("10004"),
        customer_class=CustomerClass.COMMERCIAL,
        monthly_kwh={date(2026, 1, 1): 20000},
    )
    response = csp_api.post(AUTHENTICATE, _facts(big), format="json")
    assert response.json() == {"authenticated": True, "max_term_months": 36}


def test_input_is_normalised_as_customers_paste_it(csp_api, premise):
    pasted = _facts(premise, esi_id=f"'{premise.esi_id[:5]} {premise.esi_id[5:]}")
    pasted["meter_number"] = pasted["meter_number"].lower()
    assert csp_api.post(AUTHENTICATE, pasted, format="json").json()["authenticated"] is True


def test_a_mismatch_is_byte_identical_whichever_fact_was_wrong(csp_api, premise):
    other = make_premise(rep=make_rep("10007"))
    wrong_esi = _facts(premise, esi_id=other.esi_id)
    wrong_meter = _facts(premise, meter_number="ZZ999999")
    wrong_rep = _facts(premise, rep_certificate_number="10007")
    unknown_esi = _facts(
        premise, esi_id=premise.esi_id[:-1] + ("1" if premise.esi_id[-1] != "1" else "2")
    )
    answers = [
        csp_api.post(AUTHENTICATE, facts, format="json")
        for facts in (wrong_esi, wrong_meter, wrong_rep, unknown_esi)
    ]
    assert {a.status_code for a in answers} == {200}
    assert {a.content for a in answers} == {b'{"authenticated":false}'}
    assert len({tuple(sorted(a.headers.items())) for a in answers}) == 1


def test_every_attempt_is_recorded_with_the_csp_and_ip(csp_api, premise):
    csp_api.post(AUTHENTICATE, _facts(premise), format="json", REMOTE_ADDR="198.51.100.3")
    csp_api.post(AUTHENTICATE, _facts(premise, meter_number="X1"), format="json")
    assert PremiseAuthenticationAttempt.objects.filter(csp=csp_api.csp).count() == 2


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"esi_id": "10443720000000001"},
        {"esi_id": "abc", "meter_number": "M1", "rep_certificate_number": "10004"},
        {"esi_id": "10443720000000001", "meter_number": "M 1 !", "rep_certificate_number": "10004"},
        {"esi_id": "10443720000000001", "meter_number": "M1", "rep_certificate_number": "TXU"},
        ["not", "an", "object"],
    ],
)
def test_a_malformed_body_is_400_invalid_and_not_an_attempt(csp_api, body):
    response = csp_api.post(AUTHENTICATE, body, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
    assert not PremiseAuthenticationAttempt.objects.exists()


@pytest.mark.parametrize("persona", ["suspended_csp_api", "revoked_csp_api", "anonymous_api"])
def test_only_an_active_csp_may_authenticate_premises(request, persona, premise):
    response = request.getfixturevalue(persona).post(AUTHENTICATE, _facts(premise), format="json")
    assert response.status_code in (401, 403)
    assert not PremiseAuthenticationAttempt.objects.exists()


@pytest.mark.django_db
def test_api_docs_load_their_assets_from_the_portal_not_a_cdn(client):
    response = client.get("/api/v1/docs/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "swagger-ui" in page
    assert "cdn" not in page.lower()
    assert "/static/drf_spectacular_sidecar/" in page
