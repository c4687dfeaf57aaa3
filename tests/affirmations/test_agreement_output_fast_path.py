"""The agreement's representation without DRF's per-instance field copies (issue 16):
the same dict as the declared fields give, and a creation answered from what it wrote."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework import serializers

from affirmations import services
from affirmations.api.serializers import AgreementOutput, agreement_output
from affirmations.events import agreements_for_representation
from affirmations.models import Agreement, EndedBy
from affirmations.rules import OCCUPANT_CHANGED
from smt_portal.actors import Actor

from .conftest import (
    NOW,
    large_commercial,
    make_active,
    make_renewable,
    premise_json,
    request_agreement,
    residential,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen")]


def _declared_fields_representation(agreement):
    # DRF's own walk over the declared fields: the reference the fast path must equal.
    return dict(serializers.Serializer.to_representation(AgreementOutput(), agreement))


def _agreements_in_every_shape(csp):
    pending = request_agreement(csp, residential(), large_commercial(), language="es")
    active = make_active(request_agreement(csp, residential()))
    renewing = make_renewable(request_agreement(csp, large_commercial(), term_months=24))
    services.agreement_renewal_request(
        agreement=renewing, customer_email="jane.customer@example.com",
        actor=Actor.csp(csp, key_prefix="abcd1234", ip="203.0.113.9"), now=NOW,
    )  # fmt: skip
    ended = request_agreement(csp, residential())
    services.agreement_terminate(
        agreement=ended, ended_by=EndedBy.CSP, reason="Customer asked by phone.",
        actor=Actor.csp(csp, key_prefix="abcd1234", ip="203.0.113.9"), now=NOW,
    )  # fmt: skip
    moved_out = make_active(request_agreement(csp, residential()))
    Agreement.objects.filter(pk=moved_out.pk).update(
        status="terminated", ended_at=NOW, ended_by=EndedBy.SYSTEM, end_reason=OCCUPANT_CHANGED
    )
    return [pending.pk, active.pk, renewing.pk, ended.pk, moved_out.pk]


def test_the_fast_representation_equals_the_declared_fields_for_every_shape(active_csp):
    ids = _agreements_in_every_shape(active_csp)

    agreements = list(agreements_for_representation(ids))

    assert len(agreements) == 5
    assert any(a["renewals"] for a in map(agreement_output, agreements))
    for agreement in agreements:
        fast = agreement_output(agreement)
        assert fast == _declared_fields_representation(agreement)
        assert list(fast) == list(AgreementOutput().fields)  # the same keys, in order
        assert dict(AgreementOutput(agreement).data) == fast


def test_creating_an_agreement_answers_from_the_rows_it_wrote_without_reading_them_back(
    csp_api,
):
    csp_api.get("/api/v1/agreements/")  # the key's first use is written once
    body = {
        "premises": [premise_json(residential()), premise_json(large_commercial())],
        "customer_email": "jane.customer@example.com",
        "term_months": 12,
    }

    with CaptureQueriesContext(connection) as queries:
        response = csp_api.post("/api/v1/agreements/", body, format="json")

    assert response.status_code == 201, response.json()
    statements = [q["sql"] for q in queries.captured_queries]
    created = next(
        i for i, sql in enumerate(statements) if 'INSERT INTO "affirmations_agreement"' in sql
    )
    read_back = [
        sql
        for sql in statements[created:]
        if sql.startswith("SELECT")
        and any(
            f'FROM "{table}"' in sql
            for table in (
                "affirmations_agreement",
                "affirmations_agreementpremise",
                "affirmations_renewal",
                "outbox_outboundemail",
            )
        )  # fmt: skip
    ]
    assert read_back == []
    agreement = Agreement.objects.get(pk=response.json()["id"])
    fresh = next(iter(agreements_for_representation([agreement.pk])))
    assert response.json() == agreement_output(fresh)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="one statement on PostgreSQL only")
def test_the_providers_lock_and_the_duplicate_check_are_one_round_trip(active_csp):
    home = residential()
    request_agreement(active_csp, home)

    with CaptureQueriesContext(connection) as queries:
        with pytest.raises(services.DuplicateAgreement) as refused:
            request_agreement(active_csp, residential(), home)

    assert refused.value.esi_ids == [home.esi_id]
    locks = [q["sql"] for q in queries.captured_queries if "FOR SHARE" in q["sql"]]
    assert len(locks) == 1 and "affirmations_agreementpremise" in locks[0]
    reads = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].startswith("SELECT") and "affirmations_agreementpremise" in q["sql"]
    ]
    assert reads == locks
