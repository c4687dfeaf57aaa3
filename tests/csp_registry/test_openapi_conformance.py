"""The live API answers as its published OpenAPI document says, and never with a 5xx.

Schemathesis generates requests from /api/v1/schema/ and sends them, with a
valid key, to the WSGI application in-process; every response is checked
against the document (status code, content type, headers, body schema).
"""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import (
    negative_data_rejection,
    positive_data_acceptance,
)

from tests.factories import active_meter_number, make_premise, make_rep

# The identifiers' rules (TDU prefixes, pasted spaces and dashes, ESI ID
# lengths) are richer than JSON Schema says, so a schema-valid value may
# rightly get the documented 400 `invalid`; and DRF's paginators ignore a
# malformed ?page_size= rather than refuse it. What is checked is what the
# contract promises: no 5xx, and every answer as documented.
LENIENT = [positive_data_acceptance, negative_data_rejection]
MODES = [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]


@pytest.fixture
def _test_transaction_survives_requests():
    # Calls go straight to the WSGI handler, whose request signals would close
    # the connection holding the test's transaction; Django's own test client
    # disconnects them the same way.
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


@pytest.fixture
def api_schema(db, _test_transaction_survives_requests):
    make_rep("10004", legal_name="TXU ENERGY RETAIL COMPANY LLC")
    make_premise()
    return schemathesis.openapi.from_wsgi("/api/v1/schema/?format=json", get_wsgi_application())


@pytest.mark.parametrize("mode", MODES, ids=lambda mode: mode.value)
def test_every_generated_request_gets_a_documented_answer_and_never_a_5xx(
    api_schema, csp_api, settings, mode
):
    # Limits high enough that generated traffic is not simply refused with 429.
    settings.API_RATE_LIMITS = {"default": {}, "premise_authentication": {}}
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/api/v1/reps/", "/api/v1/premise-authentications/"}
    headers = {"Authorization": f"Bearer {csp_api.key}"}
    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @hypothesis_settings(
            max_examples=25,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        )
        def call(case):
            case.call_and_validate(headers=headers, excluded_checks=LENIENT)

        call()


def test_the_document_declares_the_bearer_scheme_and_the_error_format(csp_api):
    document = csp_api.get("/api/v1/schema/?format=json").json()
    assert document["components"]["securitySchemes"]["cspApiKey"]["scheme"] == "bearer"
    operation = document["paths"]["/api/v1/premise-authentications/"]["post"]
    assert {"400", "401", "403", "422", "429", "503"} <= set(operation["responses"])
    assert any(p["name"] == "Idempotency-Key" for p in operation["parameters"])
    error = document["components"]["schemas"]["ErrorDetail"]
    assert set(error["required"]) == {"code", "message", "fields"}


def test_a_matching_premise_conforms_too(csp_api):
    premise = make_premise()
    response = csp_api.post(
        "/api/v1/premise-authentications/",
        {
            "esi_id": premise.esi_id,
            "meter_number": active_meter_number(premise),
            "rep_certificate_number": premise.rep_of_record.certificate_number,
        },
        format="json",
    )
    assert response.json() == {"authenticated": True, "max_term_months": 12}
