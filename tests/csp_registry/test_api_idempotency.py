"""Idempotency-Key on POST: a retry gets the first answer and writes nothing."""

import threading
from datetime import timedelta

import pytest
import time_machine
from django.db import connection, connections

from csp_registry.api import views
from csp_registry.models import IdempotencyKey
from monitoring.models import PremiseAuthenticationAttempt
from tests.factories import active_meter_number, make_premise, make_rep
from tests.personas import api_client_for

AUTHENTICATE = "/api/v1/premise-authentications/"


@pytest.fixture
def premise(db):
    make_rep("10004")
    return make_premise()


def _facts(premise, meter=None):
    return {
        "esi_id": premise.esi_id,
        "meter_number": meter or active_meter_number(premise),
        "rep_certificate_number": "10004",
    }


def _post(client, body, key):
    return client.post(AUTHENTICATE, body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def test_the_same_key_and_body_get_the_first_response_and_no_second_write(csp_api, premise):
    first = _post(csp_api, _facts(premise), "req-1")
    again = _post(csp_api, _facts(premise), "req-1")
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.content == first.content
    assert again["Idempotent-Replayed"] == "true"
    assert PremiseAuthenticationAttempt.objects.count() == 1


def test_the_same_body_with_keys_reordered_is_the_same_request(csp_api, premise):
    body = _facts(premise)
    _post(csp_api, body, "req-1")
    reordered = dict(reversed(list(body.items())))
    assert _post(csp_api, reordered, "req-1")["Idempotent-Replayed"] == "true"


def test_the_same_key_with_another_body_is_422_and_writes_nothing(csp_api, premise):
    _post(csp_api, _facts(premise), "req-1")
    response = _post(csp_api, _facts(premise, meter="OTHER9"), "req-1")
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "idempotency_key_reused"
    assert PremiseAuthenticationAttempt.objects.count() == 1


def test_keys_belong_to_one_csp(csp_api, other_csp_api, premise):
    _post(csp_api, _facts(premise), "shared-name")
    response = _post(other_csp_api, _facts(premise, meter="OTHER9"), "shared-name")
    assert response.status_code == 200 and not response.has_header("Idempotent-Replayed")
    assert PremiseAuthenticationAttempt.objects.count() == 2


def test_without_a_key_every_post_is_processed(csp_api, premise):
    csp_api.post(AUTHENTICATE, _facts(premise), format="json")
    csp_api.post(AUTHENTICATE, _facts(premise), format="json")
    assert PremiseAuthenticationAttempt.objects.count() == 2
    assert not IdempotencyKey.objects.exists()


def test_a_refused_request_is_not_stored_so_a_corrected_retry_runs(csp_api, premise):
    assert _post(csp_api, {"esi_id": "nope"}, "req-1").status_code == 400
    assert not IdempotencyKey.objects.exists()
    assert _post(csp_api, {"esi_id": "nope"}, "req-1").status_code == 400


@pytest.mark.parametrize("key", ["", "x" * 256, "naïve"])
def test_an_unusable_key_is_400_invalid(csp_api, premise, key):
    response = _post(csp_api, _facts(premise), key)
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["error"]["fields"]


def test_keys_are_kept_24_hours_and_then_forgotten(csp_api, premise):
    with time_machine.travel("2026-03-02T16:00:00+00:00", tick=False):
        _post(csp_api, _facts(premise), "req-1")
    with time_machine.travel("2026-03-03T15:59:59+00:00", tick=False):
        assert _post(csp_api, _facts(premise), "req-1")["Idempotent-Replayed"] == "true"
    with time_machine.travel("2026-03-03T16:00:01+00:00", tick=False):
        assert not _post(csp_api, _facts(premise), "req-1").has_header("Idempotent-Replayed")
    assert PremiseAuthenticationAttempt.objects.count() == 2


def test_the_stored_key_expires_no_sooner_than_a_day(csp_api, premise):
    _post(csp_api, _facts(premise), "req-1")
    record = IdempotencyKey.objects.get()
    assert record.expires_at - record.created_at >= timedelta(hours=24)


# --- The race -----------------------------------------------------------------


def _blocked_backends():
    with connections["default"].cursor() as cursor:
        # Inside a transaction pg_stat_activity is a snapshot; take a fresh one.
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE wait_event_type = 'Lock' AND datname = current_database()"
        )
        return cursor.fetchone()[0]


# SQLite's in-memory test database is shared-cache, where a second writer
# fails at once ("table is locked") instead of waiting as a WAL file does;
# production concurrency is PostgreSQL's, so the races run there.
postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="concurrent writers need PostgreSQL"
)


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_two_racing_requests_with_one_key_write_once_and_answer_alike(active_csp, monkeypatch):
    make_rep("10004")
    premise = make_premise()
    first_holds_the_key, second_is_waiting = threading.Event(), threading.Event()
    real = views.premise_authenticate

    def first_waits_for_the_second(**kwargs):
        # The first request holds its uncommitted key row until the second is
        # seen blocked on it in PostgreSQL: the race, made certain.
        if threading.current_thread().name == "first":
            first_holds_the_key.set()
            for _ in range(500):
                if _blocked_backends():
                    second_is_waiting.set()
                    break
                threading.Event().wait(0.01)
        return real(**kwargs)

    monkeypatch.setattr(views, "premise_authenticate", first_waits_for_the_second)
    clients = {"first": api_client_for(active_csp), "second": None}
    clients["second"] = api_client_for(active_csp, key=clients["first"].key)
    responses = {}

    def call(name):
        try:
            responses[name] = _post(clients[name], _facts(premise), "race-1")
        finally:
            connections.close_all()

    first = threading.Thread(target=call, args=("first",), name="first")
    first.start()
    assert first_holds_the_key.wait(30)
    second = threading.Thread(target=call, args=("second",), name="second")
    second.start()
    first.join(30)
    second.join(30)

    assert second_is_waiting.is_set()
    assert responses["first"].content == responses["second"].content
    assert responses["second"]["Idempotent-Replayed"] == "true"
    assert PremiseAuthenticationAttempt.objects.count() == 1
    assert IdempotencyKey.objects.count() == 1


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_many_concurrent_retries_with_one_key_write_once(active_csp):
    make_rep("10004")
    premise = make_premise()
    key = api_client_for(active_csp).key
    barrier = threading.Barrier(6)
    responses = []

    def call():
        client = api_client_for(active_csp, key=key)
        barrier.wait(10)
        try:
            responses.append(_post(client, _facts(premise), "storm-1"))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=call) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert [r.status_code for r in responses] == [200] * 6
    assert len({r.content for r in responses}) == 1
    assert PremiseAuthenticationAttempt.objects.count() == 1
