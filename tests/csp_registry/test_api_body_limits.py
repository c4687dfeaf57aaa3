"""JSON bodies: over 1 MiB → 413 ``too_large``; nested deeper than 64 → 400
``invalid``; never a 500, whatever the body or its framing."""

import json

import pytest

from monitoring.models import PremiseAuthenticationAttempt
from tests.factories import make_rep

AUTHENTICATE = "/api/v1/premise-authentications/"
AGREEMENTS = "/api/v1/agreements/"
MIB = 1024 * 1024

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _reps(db):
    make_rep("10004")


def _post(client, body, path=AUTHENTICATE, **extra):
    return client.post(path, data=body, content_type="application/json", **extra)


def _error(response, status, code):
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] == code
    return error


def _padded(size):
    """A valid JSON object of exactly ``size`` bytes."""
    skeleton = json.dumps({"esi_id": "10443720000000001", "meter_number": "M1",
                           "rep_certificate_number": "10004", "padding": ""})  # fmt: skip
    body = skeleton[:-2] + " " * (size - len(skeleton)) + '"}'
    assert len(body) == size
    return body


def test_a_body_of_exactly_one_mib_is_read(csp_api):
    response = _post(csp_api, _padded(MIB))
    assert response.status_code == 200
    assert PremiseAuthenticationAttempt.objects.count() == 1


def test_a_body_one_byte_over_one_mib_is_413_too_large_and_nothing_is_checked(csp_api):
    _error(_post(csp_api, _padded(MIB + 1)), 413, "too_large")
    assert not PremiseAuthenticationAttempt.objects.exists()


def test_a_body_longer_than_its_content_length_says_is_read_only_as_far_as_declared(csp_api):
    body = _padded(MIB + 1)
    response = _post(csp_api, body, CONTENT_LENGTH="100")
    _error(response, 400, "invalid")  # the first 100 bytes: not JSON


def test_a_content_length_over_the_limit_is_refused_before_reading(csp_api):
    response = _post(csp_api, "{}", CONTENT_LENGTH=str(50 * MIB))
    _error(response, 413, "too_large")


def test_a_body_over_djangos_own_limit_is_413_too(csp_api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    _error(_post(csp_api, _padded(2000)), 413, "too_large")


def test_a_large_agreement_body_is_413_on_the_agreements_endpoint_too(csp_api):
    premises = [{"esi_id": f"10443720{i:09d}", "meter_number": "M" * 5000,
                 "rep_certificate_number": "10004"} for i in range(220)]  # fmt: skip
    body = json.dumps({"premises": premises, "customer_email": "x@example.com", "term_months": 1})
    assert len(body) > MIB
    _error(_post(csp_api, body, AGREEMENTS), 413, "too_large")


def test_a_chunked_body_without_content_length_is_never_read(csp_api):
    # Django reads no body without a Content-Length (a chunked request): it is
    # empty, so the request is invalid, never a 500 and never read unbounded.
    response = _post(csp_api, _padded(2 * MIB), CONTENT_LENGTH="", HTTP_TRANSFER_ENCODING="chunked")
    _error(response, 400, "invalid")
    assert not PremiseAuthenticationAttempt.objects.exists()


def _nested(depth, leaf="1"):
    return "[" * depth + leaf + "]" * depth


def test_nesting_64_deep_is_parsed(csp_api):
    response = _post(csp_api, '{"esi_id": ' + _nested(63) + "}")
    error = _error(response, 400, "invalid")
    assert "esi_id" in error["fields"]  # parsed, then refused by the field's rules


def test_nesting_65_deep_is_400_invalid(csp_api):
    error = _error(_post(csp_api, '{"esi_id": ' + _nested(64) + "}"), 400, "invalid")
    assert "64" in error["message"]


@pytest.mark.parametrize("depth", [1_000, 100_000])
def test_a_nesting_bomb_is_400_invalid_not_500(csp_api, depth):
    _error(_post(csp_api, _nested(depth)), 400, "invalid")
    _error(_post(csp_api, '{"a":' * depth + "1" + "}" * depth, AGREEMENTS), 400, "invalid")


def test_an_unclosed_nesting_bomb_is_400_invalid(csp_api):
    _error(_post(csp_api, "[" * 100_000), 400, "invalid")


def test_brackets_inside_strings_are_not_nesting(csp_api):
    response = _post(csp_api, json.dumps({"esi_id": "[" * 1000, "meter_number": "{" * 60,
                                          "rep_certificate_number": "10004"}))  # fmt: skip
    error = _error(response, 400, "invalid")
    assert "esi_id" in error["fields"]
