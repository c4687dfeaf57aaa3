"""Who gets in: the bearer key and the CSP's status, checked on every call."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from csp_registry.key_cache import keys_forget_all
from csp_registry.models import ApiKey
from csp_registry.services import csp_issue_key, csp_revoke, csp_revoke_key, csp_suspend
from smt_portal.actors import Actor
from tests.factories import make_rep
from tests.personas import key_secret

REPS = "/api/v1/reps/"


@pytest.fixture(autouse=True)
def _reps(db):
    make_rep("10004")


def _error(response):
    return response.json()["error"]["code"]


def test_an_active_csp_with_its_key_gets_the_data(csp_api):
    response = csp_api.get(REPS)
    assert response.status_code == 200


def test_an_anonymous_caller_gets_401_with_the_bearer_challenge(anonymous_api):
    response = anonymous_api.get(REPS)
    assert response.status_code == 401 and _error(response) == "unauthenticated"
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


@pytest.mark.parametrize(
    "header",
    [
        "Bearer",
        "Bearer smt_abcdefgh_nope",
        "Token smt_abcdefgh_x",
        "Basic dXNlcjpwYXNz",
        "Bearer a b",
    ],
)
def test_a_malformed_or_unknown_key_gets_401(anonymous_api, header):
    response = anonymous_api.get(REPS, HTTP_AUTHORIZATION=header)
    assert response.status_code == 401 and _error(response) == "unauthenticated"


def test_another_csps_key_with_a_tampered_secret_gets_401(other_csp_api, anonymous_api):
    tampered = other_csp_api.key[:-4] + "AAAA"
    response = anonymous_api.get(REPS, HTTP_AUTHORIZATION=f"Bearer {tampered}")
    assert response.status_code == 401


@pytest.mark.parametrize("persona", ["suspended_csp_api", "revoked_csp_api", "pending_csp_api"])
def test_a_csp_that_is_not_active_gets_403_csp_not_active(request, persona):
    response = request.getfixturevalue(persona).get(REPS)
    assert response.status_code == 403 and _error(response) == "csp_not_active"


def test_a_suspension_takes_effect_on_the_very_next_call(csp_api, active_csp):
    assert csp_api.get(REPS).status_code == 200
    csp_suspend(
        csp=active_csp, now=timezone.now(), reason="Spam reports", actor=Actor.system("tests")
    )
    response = csp_api.get(REPS)
    assert response.status_code == 403 and _error(response) == "csp_not_active"


def test_a_revocation_takes_effect_on_the_very_next_call(csp_api, active_csp):
    assert csp_api.get(REPS).status_code == 200
    csp_revoke(csp=active_csp, now=timezone.now(), reason="Directive", actor=Actor.system("tests"))
    assert _error(csp_api.get(REPS)) == "csp_not_active"


def test_a_revoked_key_gets_401_while_the_csps_other_keys_work(csp_api, active_csp, anonymous_api):
    _, second = csp_issue_key(csp=active_csp, now=timezone.now())
    csp_revoke_key(api_key=ApiKey.objects.get(prefix=csp_api.key.split("_")[1]), now=timezone.now())
    assert csp_api.get(REPS).status_code == 401
    assert anonymous_api.get(REPS, HTTP_AUTHORIZATION=f"Bearer {second}").status_code == 200


def test_an_expired_key_gets_401(active_csp, anonymous_api):
    now = timezone.now()
    _, full_key = csp_issue_key(csp=active_csp, now=now, expires_at=now - timedelta(seconds=1))
    assert anonymous_api.get(REPS, HTTP_AUTHORIZATION=f"Bearer {full_key}").status_code == 401


def test_the_key_and_its_csps_status_are_read_in_one_query(csp_api):
    csp_api.get(REPS)  # the first use writes last_used_at; later calls do not
    keys_forget_all()  # on Redis, this process held the key (test_api_key_cache.py)
    with CaptureQueriesContext(connection) as queries:
        csp_api.get(REPS)
    key_queries = [q["sql"] for q in queries if "csp_registry_apikey" in q["sql"]]
    assert len(key_queries) == 1
    assert "csp_registry_csp" in key_queries[0]  # joined, not a second query


def test_the_key_never_appears_in_the_request_log_or_admin_strings(csp_api, active_csp):
    from csp_registry.models import ApiRequestLog

    csp_api.get(REPS)
    row = ApiRequestLog.objects.get()
    assert csp_api.key not in str(row.__dict__)
    assert row.key_prefix == csp_api.key.split("_")[1]
    for api_key in active_csp.api_keys.all():
        assert csp_api.key not in str(api_key)


def _authenticate(full_key):
    from rest_framework.request import Request
    from rest_framework.test import APIRequestFactory

    from csp_registry.api.authentication import CspKeyAuthentication

    request = Request(APIRequestFactory().get(REPS, HTTP_AUTHORIZATION=f"Bearer {full_key}"))
    return CspKeyAuthentication().authenticate(request)


def test_authenticating_a_key_and_reading_its_csps_status_is_one_query(
    csp_api, django_assert_num_queries
):
    _authenticate(csp_api.key)  # the first use writes last_used_at; later calls do not
    keys_forget_all()
    with django_assert_num_queries(1):
        _, api_key = _authenticate(csp_api.key)
        assert api_key.csp.status == "active"  # read in that same query


def test_a_suspended_csps_key_is_judged_in_one_query(suspended_csp_api, django_assert_num_queries):
    _authenticate(suspended_csp_api.key)
    keys_forget_all()
    with django_assert_num_queries(1):
        _, api_key = _authenticate(suspended_csp_api.key)
        assert api_key.csp.status == "suspended"


def test_the_full_key_never_reaches_a_log(
    caplog, settings, csp_api, suspended_csp_api, anonymous_api
):
    import logging

    settings.API_RATE_LIMITS = {"default": {"csp": "2/m"}}
    caplog.set_level(logging.DEBUG)
    wrong_secret = csp_api.key[:-4] + "AAAA"
    responses = [
        csp_api.get(REPS),
        csp_api.get(REPS),
        csp_api.get(REPS),  # 429
        suspended_csp_api.get(REPS),  # 403
        anonymous_api.get(REPS, HTTP_AUTHORIZATION=f"Bearer {wrong_secret}"),  # 401
        csp_api.get("/api/v1/no-such-endpoint/"),  # 404
    ]
    assert [r.status_code for r in responses] == [200, 200, 429, 403, 401, 404]
    assert caplog.records, "the failures were logged"
    for secret in (csp_api.key, suspended_csp_api.key, wrong_secret):
        assert secret not in caplog.text
        assert key_secret(secret) not in caplog.text


def test_the_key_and_its_csp_are_read_exactly_as_the_orm_reads_them(active_csp):
    # Every column, through the backend's and the fields' converters: aware
    # datetimes, the expiry, the CSP's texts (the lookup's SQL is built once).
    now = timezone.now()
    api_key, full_key = csp_issue_key(
        csp=active_csp, now=now, name="rotated", expires_at=now + timedelta(days=30)
    )
    ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now - timedelta(hours=2))
    _, found = _authenticate(full_key)
    expected = ApiKey.objects.select_related("csp").get(pk=api_key.pk)
    for model_fields, got, want in [
        (ApiKey._meta.concrete_fields, found, expected),
        (type(active_csp)._meta.concrete_fields, found.csp, expected.csp),
    ]:
        for field in model_fields:
            assert getattr(got, field.attname) == getattr(want, field.attname), field.name
            assert type(getattr(got, field.attname)) is type(getattr(want, field.attname))
    assert found.last_used_at.tzinfo is not None
    assert not found._state.adding and found._state.db == expected._state.db
