"""The API docs open with what a newcomer needs (a quick start, the identifiers'
formats, the error envelope, idempotency, rate limits), and the document's
fields carry the identifiers' patterns, which hold exactly the values the
portal accepts and which schemathesis can generate from."""

import re

import pytest
from schemathesis.specs.openapi.warnings import detect_unsupported_regex

from premises.identifiers import (
    CERTIFICATE_NUMBER_PATTERN,
    ESI_ID_PATTERN,
    METER_NUMBER_PATTERN,
    InvalidIdentifier,
    normalize_certificate_number,
    normalize_esi_id,
    normalize_meter_number,
)

RULES = [
    (
        ESI_ID_PATTERN,
        normalize_esi_id,
        ["10443720099000001", "1008901000000000000001"],
        ["1044372009900000", "104437200990000011", "20443720099000001", "1044372009900000A"],
    ),
    (METER_NUMBER_PATTERN, normalize_meter_number, ["SBX0000001", "123456789"], ["", "A" * 33]),
    (
        CERTIFICATE_NUMBER_PATTERN,
        normalize_certificate_number,
        ["10004", "10166X", "1234"],
        ["123", "1234567", "10004XY", "X10004"],
    ),
]
IDENTIFIER_FIELDS = {
    "esi_id": ESI_ID_PATTERN,
    "meter_number": METER_NUMBER_PATTERN,
    "rep_certificate_number": CERTIFICATE_NUMBER_PATTERN,
}


@pytest.fixture
def document(anonymous_api):
    response = anonymous_api.get("/api/v1/schema/?format=json")
    assert response.status_code == 200
    return response.json()


@pytest.mark.parametrize("pattern, normalize, good, bad", RULES)
def test_each_identifier_pattern_accepts_what_the_portal_accepts_and_refuses_what_it_refuses(
    pattern, normalize, good, bad
):
    for value in good:
        assert re.fullmatch(pattern, value) and normalize(value) == value.upper()
    for value in bad:
        assert not re.fullmatch(pattern, value)
        with pytest.raises(InvalidIdentifier):
            normalize(value)


@pytest.mark.parametrize("pattern", [rule[0] for rule in RULES])
def test_each_identifier_pattern_is_a_plain_ecma_regex(pattern):
    # Anchored, ASCII classes only (no \d, \w, whose meaning differs between
    # engines), no lookaround: JavaScript, Python and schemathesis read it alike.
    assert pattern.startswith("^") and pattern.endswith("$")
    assert not re.search(r"\\[dDwWsSbB]|\(\?<?[=!]|\(\?P", pattern)


@pytest.mark.parametrize(
    "schema_name", ["PremiseAuthenticationInputRequest", "PremiseInputRequest"]
)
def test_the_identifier_fields_of_the_document_carry_their_pattern_and_an_example(
    document, schema_name
):
    properties = document["components"]["schemas"][schema_name]["properties"]

    for name, pattern in IDENTIFIER_FIELDS.items():
        assert properties[name]["pattern"] == pattern
        assert re.fullmatch(pattern, properties[name]["example"])
        assert properties[name]["description"]


def test_the_esi_id_query_parameters_carry_the_pattern_too(document):
    operations = [
        document["paths"]["/api/v1/agreements/"]["get"],
        document["paths"]["/api/v1/agreements/{agreement_id}/interval-data/"]["get"],
    ]
    for operation in operations:
        (esi_id,) = [p for p in operation["parameters"] if p["name"] == "esi_id"]
        assert esi_id["schema"]["pattern"] == ESI_ID_PATTERN


def test_schemathesis_can_generate_from_every_pattern_of_the_document(anonymous_api):
    import schemathesis

    raw = anonymous_api.get("/api/v1/schema/?format=json").json()
    schema = schemathesis.openapi.from_dict(raw)

    warnings = [
        f"{operation.label}: {warning.message}"
        for result in schema.get_all_operations()
        for operation in [result.ok()]
        for warning in detect_unsupported_regex(operation)
    ]
    assert warnings == []


def test_the_docs_open_with_a_quick_start_from_a_key_to_the_customers_data(document):
    description = document["info"]["description"]

    sections = ["## Quick start", "## Identifiers", "## Errors", "## Idempotency", "## Rate limits"]
    positions = [description.index(section) for section in sections]
    assert positions == sorted(positions)
    assert positions[0] < description.index("sandbox")
    quick_start = description[positions[0] : positions[1]]
    steps = [
        "Authorization: Bearer",
        "POST /api/v1/premise-authentications/",
        "POST /api/v1/agreements/",
        "webhook",
        "GET /api/v1/events/",
        "GET /api/v1/agreements/{id}/",
        "interval-data/",
    ]
    assert [quick_start.index(step) for step in steps] == sorted(
        quick_start.index(step) for step in steps
    )


def test_the_docs_show_each_identifiers_pattern_with_examples_the_envelope_and_the_limits(
    document,
):
    description = document["info"]["description"]

    for pattern in IDENTIFIER_FIELDS.values():
        assert f"`{pattern}`" in description
    for example in ("`10443720099000001`", "`SBX0000001`", "`10004`", "`10166X`"):
        assert example in description
    assert '{"error": {"code": "invalid"' in description
    assert "Idempotency-Key" in description and "idempotency_key_reused" in description
    assert "429 rate_limited" in description and "Retry-After" in description


def test_an_agreements_premises_and_the_idempotency_key_are_bounded_as_the_api_bounds_them(
    document,
):
    premises = document["components"]["schemas"]["AgreementCreateInputRequest"]["properties"][
        "premises"
    ]
    operation = document["paths"]["/api/v1/agreements/"]["post"]
    (key,) = [p for p in operation["parameters"] if p["name"] == "Idempotency-Key"]

    assert (premises["minItems"], premises["maxItems"]) == (1, 200)
    assert re.fullmatch(key["schema"]["pattern"], "0b9f3c1e-5d2a-4c1b-9e1f-2a3b4c5d6e7f")
    assert not re.fullmatch(key["schema"]["pattern"], "x" * 256)
    assert not re.fullmatch(key["schema"]["pattern"], "clé")
