"""POST/GET /api/v1/agreements/: the contract's fields, codes and access rules."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from affirmations.models import Agreement, AgreementStatus
from outbox.models import OutboundEmail
from premises.models import TermPolicy

from .conftest import (
    DEADLINE,
    large_commercial,
    premise_json,
    request_agreement,
    residential,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen")]

URL = "/api/v1/agreements/"
EMAIL = "jane.customer@example.com"


def create(client, *premises, term_months=12, **extra):
    body = {
        "premises": [premise_json(p) for p in premises],
        "customer_email": EMAIL,
        "term_months": term_months,
        **extra,
    }
    return client.post(URL, body, format="json")


def test_creating_answers_201_with_the_contract_fields_and_only_a_masked_email(csp_api):
    home = residential()

    response = create(csp_api, home, term_months=6, language="es")

    assert response.status_code == 201, response.json()
    body = response.json()
    agreement = Agreement.objects.get()
    assert body["id"] == agreement.pk
    assert body["status"] == "pending_affirmation"
    assert body["premises"] == [{"esi_id": home.esi_id, "large_commercial": False}]
    assert body["term_months"] == 6
    assert body["language"] == "es"
    assert body["customer_email_masked"] == "j***@example.com"
    assert EMAIL not in response.content.decode()
    assert body["confirmation_code"] == agreement.confirmation_code
    assert body["affirmation_expires_at"] == DEADLINE.isoformat()
    for field in ("created_at", "affirmed_at", "term_start", "term_end", "renewals"):
        assert field in body
    assert body["affirmed_at"] is None and body["renewals"] == []
    assert OutboundEmail.objects.get().language == "es"


def test_esi_ids_pasted_with_spaces_and_an_apostrophe_are_normalised(csp_api):
    home = residential()
    pasted = premise_json(home)
    pasted["esi_id"] = "'" + " ".join(home.esi_id[i : i + 4] for i in range(0, 17, 4))
    response = csp_api.post(
        URL, {"premises": [pasted], "customer_email": EMAIL, "term_months": 1}, format="json"
    )
    assert response.status_code == 201, response.json()
    assert response.json()["premises"][0]["esi_id"] == home.esi_id


def test_failed_authentication_is_422_listing_indexes_and_never_the_field(csp_api):
    good, bad = residential(), residential()
    body = {
        "premises": [premise_json(good), {**premise_json(bad), "meter_number": "999999999"}],
        "customer_email": EMAIL,
        "term_months": 1,
    }
    response = csp_api.post(URL, body, format="json")

    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "authentication_failed"
    assert error["failed_premises"] == [1]
    assert error["fields"] == {}
    assert "meter" not in response.content.decode().lower()
    assert "certificate" not in response.content.decode().lower()
    assert not Agreement.objects.exists()


def test_a_term_over_the_limit_is_422_stating_the_maximum(csp_api):
    response = create(csp_api, residential(), term_months=13)
    assert response.status_code == 422
    error = response.json()["error"]
    assert (error["code"], error["max_term_months"]) == ("term_exceeds_limit", 12)
    assert "12" in error["message"]


def test_large_commercial_may_ask_for_36_months(csp_api):
    response = create(csp_api, large_commercial(), term_months=36)
    assert response.status_code == 201
    assert response.json()["premises"][0]["large_commercial"] is True


def test_the_staff_policy_decides_the_limit(csp_api):
    TermPolicy.objects.update_or_create(pk=1, defaults={"standard_max_months": 9})
    response = create(csp_api, residential(), term_months=10)
    assert response.json()["error"]["max_term_months"] == 9


def test_a_duplicate_request_is_409(csp_api):
    home = residential()
    assert create(csp_api, home).status_code == 201

    response = create(csp_api, home)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "duplicate_agreement"
    assert response.json()["error"]["esi_ids"] == [home.esi_id]


@pytest.mark.parametrize(
    "body",
    [
        {"premises": [], "customer_email": EMAIL, "term_months": 1},
        {"customer_email": "not-an-email", "term_months": 1},
        {"customer_email": EMAIL, "term_months": 0},
        {"customer_email": EMAIL, "term_months": 1, "language": "fr"},
    ],
)
def test_malformed_bodies_are_400_invalid(csp_api, body):
    body.setdefault("premises", [premise_json(residential())])
    response = csp_api.post(URL, body, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"


def test_the_same_esi_id_twice_in_one_request_is_400(csp_api):
    home = residential()
    response = csp_api.post(
        URL,
        {"premises": [premise_json(home)] * 2, "customer_email": EMAIL, "term_months": 1},
        format="json",
    )
    assert response.status_code == 400
    assert "premises" in response.json()["error"]["fields"]


def test_more_than_200_premises_are_400(csp_api):
    body = {
        "premises": [premise_json(residential())] * 201,
        "customer_email": EMAIL,
        "term_months": 1,
    }
    assert csp_api.post(URL, body, format="json").status_code == 400


def test_a_suspended_csp_is_403_and_nothing_is_created(suspended_csp_api):
    response = create(suspended_csp_api, residential())
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "csp_not_active"
    assert not Agreement.objects.exists()


def test_without_a_key_it_is_401(anonymous_api):
    assert create(anonymous_api, residential()).status_code == 401


def test_an_idempotency_key_replays_the_first_answer_and_creates_one_agreement(csp_api):
    home = residential()
    body = {"premises": [premise_json(home)], "customer_email": EMAIL, "term_months": 3}
    first = csp_api.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    again = csp_api.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert (first.status_code, again.status_code) == (201, 201)
    assert first.json() == again.json()
    assert Agreement.objects.count() == 1
    assert OutboundEmail.objects.count() == 1


def test_one_agreement_is_visible_to_its_csp(csp_api):
    agreement = request_agreement(csp_api.csp, residential())
    response = csp_api.get(f"{URL}{agreement.pk}/")
    assert response.status_code == 200
    assert response.json()["confirmation_code"] == agreement.confirmation_code


def test_another_csps_agreement_is_404(csp_api, other_csp_api):
    theirs = request_agreement(other_csp_api.csp, residential())
    response = csp_api.get(f"{URL}{theirs.pk}/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert csp_api.get(URL).json()["results"] == []


def _count_list_queries(client):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(URL)
    assert response.status_code == 200
    return len(queries)


def test_the_list_makes_the_same_number_of_queries_for_1_and_20_agreements(
    csp_api, django_assert_num_queries
):
    csp_api.get(URL)  # the key's first use is written once; leave it out of the count
    request_agreement(csp_api.csp, residential(), large_commercial())
    queries_for_one = _count_list_queries(csp_api)
    for _ in range(19):
        request_agreement(csp_api.csp, residential(), residential())

    with django_assert_num_queries(queries_for_one):
        response = csp_api.get(URL)
    assert len(response.json()["results"]) == 20
    assert all(len(a["premises"]) for a in response.json()["results"])


def test_the_list_is_paginated_newest_first(csp_api):
    created = [request_agreement(csp_api.csp, residential()).pk for _ in range(3)]
    page = csp_api.get(URL, {"page_size": 2}).json()
    assert [a["id"] for a in page["results"]] == created[:0:-1]
    rest = csp_api.get(page["next"]).json()
    assert [a["id"] for a in rest["results"]] == [created[0]]
    assert rest["next"] is None


def test_the_list_filters_by_status_and_esi_id(csp_api):
    home, shop = residential(), large_commercial()
    pending = request_agreement(csp_api.csp, home)
    ended = request_agreement(csp_api.csp, shop)
    Agreement.objects.filter(pk=ended.pk).update(status=AgreementStatus.TIMED_OUT)

    by_status = csp_api.get(URL, {"status": "pending_affirmation"}).json()["results"]
    assert [a["id"] for a in by_status] == [pending.pk]
    by_esi_id = csp_api.get(URL, {"esi_id": shop.esi_id}).json()["results"]
    assert [a["id"] for a in by_esi_id] == [ended.pk]
    assert csp_api.get(URL, {"status": "nonsense"}).status_code == 400
