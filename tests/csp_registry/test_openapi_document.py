"""The published OpenAPI document covers every endpoint, error code and the auth scheme."""

import pytest
from django.core.management import call_command

# The contract's endpoints that exist so far (interval data comes later).
CONTRACT_OPERATIONS = [
    ("get", "/api/v1/reps/"),
    ("post", "/api/v1/premise-authentications/"),
    ("get", "/api/v1/agreements/"),
    ("post", "/api/v1/agreements/"),
    ("get", "/api/v1/agreements/{agreement_id}/"),
    ("post", "/api/v1/agreements/{agreement_id}/reminders/"),
    ("post", "/api/v1/agreements/{agreement_id}/renewals/"),
    ("post", "/api/v1/agreements/{agreement_id}/termination/"),
]
CONTRACT_ERROR_CODES = [
    "authentication_failed",
    "term_exceeds_limit",
    "duplicate_agreement",
    "csp_not_active",
    "agreement_not_active",
    "cooldown_active",
    "rate_limited",
    "not_found",
    "invalid",
    "unauthenticated",
]
ERROR_REF = "#/components/schemas/Error"


@pytest.fixture
def document(anonymous_api):
    response = anonymous_api.get("/api/v1/schema/?format=json")
    assert response.status_code == 200
    return response.json()


@pytest.mark.parametrize("method, path", CONTRACT_OPERATIONS)
def test_each_contract_endpoint_is_documented_with_the_key_and_its_errors(document, method, path):
    operation = document["paths"][path][method]
    assert operation["security"] == [{"cspApiKey": []}]
    for status in ("400", "401", "403", "429", "500", "503"):
        body = operation["responses"][status]["content"]["application/json"]["schema"]
        assert body == {"$ref": ERROR_REF}, (status, body)
    if method == "post":
        assert any(p["name"] == "Idempotency-Key" for p in operation["parameters"])


def test_every_error_code_of_the_contract_is_named_in_the_document(document):
    described = " ".join(
        response.get("description", "")
        for item in document["paths"].values()
        for operation in item.values()
        for response in operation["responses"].values()
    )
    missing = [code for code in CONTRACT_ERROR_CODES if f"`{code}`" not in described]
    assert not missing


def test_the_document_validates_without_a_warning(tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "s.yaml"))
