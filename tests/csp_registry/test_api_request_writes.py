"""A premise authentication's attempt row is written with the request's log
row, in one round trip, before the answer leaves; if they cannot be written,
the answer is 503 and neither is."""

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from affirmations.models import Agreement
from csp_registry.key_cache import key_cache_enabled
from csp_registry.models import ApiRequestLog, IdempotencyKey
from monitoring.models import PremiseAuthenticationAttempt
from smt_portal.prepared_sql import PreparedInsert
from smt_portal.request_writes import (
    request_write_queue,
    request_writes_collected,
    request_writes_defer,
)
from tests.factories import make_premise, make_rep
from tests.personas import api_client_for, make_csp

AUTHENTICATE = "/api/v1/premise-authentications/"
ATTEMPTS = PremiseAuthenticationAttempt._meta.db_table
LOG = ApiRequestLog._meta.db_table


def _facts(premise):
    meter = premise.meters.get().number
    return {"esi_id": premise.esi_id, "meter_number": meter, "rep_certificate_number": "10004"}


@pytest.mark.django_db
@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the round trip saved is PostgreSQL's"
)
def test_the_attempt_and_the_log_row_go_to_postgresql_as_one_statement_after_the_answer_is_known():
    make_rep("10004")
    client = api_client_for(make_csp())
    premise = make_premise()
    facts = _facts(premise)
    client.post(AUTHENTICATE, facts, format="json")  # the key's first use is recorded
    with CaptureQueriesContext(connection) as captured:
        response = client.post(AUTHENTICATE, facts, format="json")
    assert response.json()["authenticated"] is True
    statements = [q["sql"] for q in captured.captured_queries]
    # The premise with its meter, peak and policy, then both rows at once (the
    # key: held by the process on Redis, else read first).
    assert len(statements) == (2 if key_cache_enabled() else 3), statements
    assert f'INSERT INTO "{ATTEMPTS}"' in statements[-1]
    assert f'INSERT INTO "{LOG}"' in statements[-1]
    attempt = PremiseAuthenticationAttempt.objects.latest("pk")
    assert (attempt.esi_id, attempt.authenticated, attempt.premise) == (
        premise.esi_id,
        True,
        premise,
    )
    assert ApiRequestLog.objects.latest("pk").status_code == 200


@pytest.fixture
def attempts_refused(db):
    """The attempts table refuses every row, as a full disk or a lost
    connection would at that moment; the log table still accepts."""
    if connection.vendor == "postgresql":
        create = f"ALTER TABLE {ATTEMPTS} ADD CONSTRAINT refuse_all CHECK (esi_id = '') NOT VALID"
        drop = f"ALTER TABLE {ATTEMPTS} DROP CONSTRAINT refuse_all"
    else:
        create = (
            f"CREATE TRIGGER refuse_all BEFORE INSERT ON {ATTEMPTS} "
            "BEGIN SELECT RAISE(ABORT, 'refused'); END"
        )
        drop = "DROP TRIGGER refuse_all"
    with connection.cursor() as cursor:
        cursor.execute(create)
    yield
    with connection.cursor() as cursor:
        cursor.execute(drop)


@pytest.mark.django_db(transaction=True)
def test_when_the_attempt_cannot_be_written_the_answer_is_503_and_no_row_is_written(
    attempts_refused, caplog
):
    make_rep("10004")
    client = api_client_for(make_csp())
    premise = make_premise()
    response = client.post(AUTHENTICATE, _facts(premise), format="json")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "service_unavailable"
    assert response["Retry-After"] == "30"
    assert "authenticated" not in response.content.decode()
    # All or none: the log row went with the refused attempt.
    assert not PremiseAuthenticationAttempt.objects.exists()
    assert not ApiRequestLog.objects.exists()
    assert "answered 503" in caplog.text


@pytest.mark.django_db(transaction=True)
def test_with_an_idempotency_key_the_attempt_is_written_in_the_keys_transaction(
    attempts_refused,
):
    # The view runs in the key's transaction: the refused attempt rolls back the
    # stored answer too, so a retry with the key is evaluated afresh.
    make_rep("10004")
    client = api_client_for(make_csp())
    premise = make_premise()
    response = client.post(
        AUTHENTICATE, _facts(premise), format="json", HTTP_IDEMPOTENCY_KEY="retry-me"
    )
    assert response.status_code in (500, 503)
    assert not IdempotencyKey.objects.exists()
    assert not PremiseAuthenticationAttempt.objects.exists()


@pytest.mark.django_db
def test_a_row_owed_inside_a_transaction_the_request_opened_is_not_queued():
    insert = PreparedInsert(ApiRequestLog)
    with request_writes_collected() as queued:
        assert request_write_queue(insert, {}) is False  # the view did not defer
        request_writes_defer()
        with transaction.atomic():
            assert request_write_queue(insert, {}) is False
        assert request_write_queue(insert, {}) is True
    assert len(queued) == 1
    assert request_write_queue(insert, {}) is False  # no request collects any more


@pytest.mark.django_db(transaction=True)
def test_an_agreement_request_writes_its_attempt_before_it_commits_anything_else(
    attempts_refused,
):
    # Creating an agreement commits other rows: its attempt is not left for the
    # final write, whose failure would answer 503 for an agreement that exists.
    make_rep("10004")
    client = api_client_for(make_csp())
    premise = make_premise()
    body = {"premises": [_facts(premise)], "customer_email": "c@example.com", "term_months": 12}
    response = client.post("/api/v1/agreements/", body, format="json")
    assert response.status_code in (500, 503)
    assert not Agreement.objects.exists()
