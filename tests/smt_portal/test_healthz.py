from datetime import UTC, datetime, timedelta

import pytest

from tests.faults import NOT_LISTENING


@pytest.mark.django_db
def test_healthz_reports_each_dependency(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {
        "database", "cache", "broker", "monitoring", "outbox", "worker", "record_checkpoints",
    }  # fmt: skip
    assert body["checks"]["database"] == {"ok": True}
    assert body["checks"]["cache"] == {"ok": True}
    assert body["checks"]["monitoring"] == {
        "ok": True, "failing_detectors": [], "last_run_at": None,
    }  # fmt: skip
    assert body["checks"]["outbox"]["ok"] is True
    # No worker has ever beaten on a fresh database: reported, not a 503.
    assert body["checks"]["worker"]["ok"] is False


@pytest.mark.django_db
def test_healthz_says_when_the_records_checkpoints_cannot_be_signed(client, settings):
    settings.RECORD_CHECKPOINT_SIGNING_KEY = ""
    settings.RECORD_CHECKPOINT_DEV_KEY = False  # production, DEBUG off

    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json()["checks"]["record_checkpoints"] == {
        "ok": False, "signing_key": False, "last_sealed_at": None, "every_seconds": 3600,
    }  # fmt: skip


def _detector_ran(name, *, ok, at):
    from monitoring.models import DetectorRun

    error = {} if ok else {"error_class": "psycopg.errors.InvalidTextRepresentation"}
    DetectorRun.objects.create(detector=name, ok=ok, started_at=at, finished_at=at, **error)


@pytest.mark.django_db
def test_healthz_names_the_detectors_whose_last_run_failed_and_stays_200(client):
    at = datetime(2026, 11, 23, 18, 0, tzinfo=UTC)
    _detector_ran("mass_affirmation_one_source", ok=True, at=at)
    _detector_ran("csp_affirms_for_customer", ok=False, at=at + timedelta(seconds=2))
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert response.json()["checks"]["monitoring"] == {
        "ok": False,
        "failing_detectors": ["csp_affirms_for_customer"],
        "last_run_at": "2026-11-23T18:00:02+00:00",
    }


@pytest.mark.django_db
def test_the_monitoring_check_is_one_query(django_assert_num_queries):
    from smt_portal import health

    _detector_ran("fast_decisions", ok=False, at=datetime(2026, 11, 23, 18, 0, tzinfo=UTC))
    with django_assert_num_queries(1):
        assert health._monitoring()["failing_detectors"] == ["fast_decisions"]


@pytest.mark.django_db
def test_healthz_is_503_when_the_database_does_not_answer(client, monkeypatch):
    from smt_portal import health

    def broken():
        raise OSError("connection refused")

    monkeypatch.setattr(health, "_database", broken)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["database"] == {"ok": False, "error": "OSError"}
    assert response.json()["checks"]["monitoring"] == {"ok": False, "error": "database"}
    assert response.json()["checks"]["outbox"] == {"ok": False, "error": "database"}
    assert response.json()["checks"]["worker"] == {"ok": False, "error": "database"}


@pytest.fixture
def redis_at(settings):
    """Point the cache and the broker at a Redis URL, with short socket timeouts."""
    from celery import current_app

    def point_at(url):
        settings.CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": url,
                "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
            }
        }
        current_app.conf.broker_url = current_app.conf.broker_write_url = url

    conf = current_app.conf
    # The stored values: reading conf.broker_write_url when unset gives
    # broker_url, and writing that back would pin it for later tests.
    saved = settings.CACHES, conf.get("broker_url"), conf.get("broker_write_url")
    yield point_at
    # Restored here, before the suite's cache-clearing fixture tears down.
    settings.CACHES, conf.broker_url, conf.broker_write_url = saved


@pytest.fixture
def silent_redis():
    """A port that accepts connections and never answers: a hung Redis."""
    import socket

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)  # connections wait in the backlog; none is ever accepted
    yield f"redis://127.0.0.1:{server.getsockname()[1]}/0"
    server.close()  # resets the waiting connections, releasing any stuck reader


@pytest.mark.django_db
def test_healthz_is_200_and_reports_cache_and_broker_down_when_redis_is_unreachable(
    client, redis_at
):
    redis_at(NOT_LISTENING)
    response = client.get("/healthz")
    assert response.status_code == 200
    checks = response.json()["checks"]
    assert checks["database"] == {"ok": True}
    assert checks["cache"]["ok"] is False
    assert checks["broker"]["ok"] is False


def test_the_broker_probe_gives_up_on_a_redis_that_never_answers(
    redis_at, silent_redis, monkeypatch
):
    import threading

    from smt_portal import health

    monkeypatch.setattr(health, "BROKER_PROBE_TIMEOUT", 0.2, raising=False)
    redis_at(silent_redis)
    result = {}
    # In a thread, so a probe that hangs fails this test instead of the suite.
    probe = threading.Thread(target=lambda: result.update(health._probe(health._broker)))
    probe.daemon = True
    probe.start()
    probe.join(timeout=5)
    assert not probe.is_alive(), "the broker probe hung on a silent Redis"
    assert result["ok"] is False


# --- The outbox and the worker (issue 10: a dead worker must show) -----------

# Monday 23 November 2026, 12:00 in Chicago.
NOW = datetime(2026, 11, 23, 18, 0, tzinfo=UTC)


@pytest.fixture
def frozen():
    import time_machine

    with time_machine.travel(NOW, tick=False):
        yield


def _email(*, due, status="pending"):
    from outbox.models import OutboundEmail

    return OutboundEmail.objects.create(
        kind="test_message", language="en", to_address="ana@example.com", subject="s",
        body_text="t", body_html="h", status=status, next_attempt_at=due,
        deliver_until=due + timedelta(days=5), created_at=due,
        sent_at=due if status == "sent" else None,
    )  # fmt: skip


@pytest.mark.django_db
def test_an_email_unsent_ten_minutes_after_it_was_due_fails_the_outbox_check_and_stays_200(
    client, frozen
):
    _email(due=NOW - timedelta(minutes=25))
    _email(due=NOW - timedelta(minutes=10, seconds=1))
    _email(due=NOW - timedelta(minutes=9))  # due, not yet overdue
    _email(due=NOW - timedelta(hours=3), status="sent")
    _email(due=NOW - timedelta(hours=3), status="failed")
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert response.json()["checks"]["outbox"] == {
        "ok": False, "overdue_emails": 2, "oldest_overdue_seconds": 1500,
        "overdue_after_minutes": 10,
    }  # fmt: skip


@pytest.mark.django_db
def test_an_email_due_exactly_ten_minutes_ago_is_not_yet_overdue(frozen):
    from smt_portal import health

    _email(due=NOW - timedelta(minutes=10))
    assert health._outbox(NOW)["ok"] is True
    assert health._outbox(NOW)["overdue_emails"] == 0


@pytest.mark.django_db
def test_a_claim_whose_sender_never_came_back_counts_as_overdue(frozen):
    from smt_portal import health

    # A sending row's next_attempt_at is the end of its claim.
    _email(due=NOW - timedelta(minutes=11), status="sending")
    assert health._outbox(NOW)["overdue_emails"] == 1


@pytest.mark.django_db
def test_the_outbox_threshold_is_a_setting(settings, frozen):
    from smt_portal import health

    settings.HEALTHZ_OUTBOX_OVERDUE_MINUTES = 30
    _email(due=NOW - timedelta(minutes=25))
    assert health._outbox(NOW) == {
        "ok": True, "overdue_emails": 0, "oldest_overdue_seconds": None,
        "overdue_after_minutes": 30,
    }  # fmt: skip


@pytest.mark.django_db
def test_the_outbox_and_worker_checks_are_one_query_each(django_assert_num_queries, frozen):
    from smt_portal import health

    _email(due=NOW - timedelta(hours=1))
    with django_assert_num_queries(1):
        health._outbox(NOW)
    with django_assert_num_queries(1):
        health._worker(NOW)


@pytest.mark.django_db
def test_the_outbox_check_reads_the_partial_index_of_unsent_rows():
    from django.db import connection

    from outbox.models import UNSENT_STATUSES, OutboundEmail

    if connection.vendor != "postgresql":
        pytest.skip("the plan is PostgreSQL's")
    query = OutboundEmail.objects.filter(
        status__in=UNSENT_STATUSES, next_attempt_at__lt=NOW
    ).values("pk")
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # a near-empty table is seq-scanned
        plan = query.explain()
    assert "outbox_email_unsent_due_idx" in plan


def _heartbeat(at, ran_by="celery@worker-1"):
    from smt_portal.models import WorkerHeartbeat

    WorkerHeartbeat.record(now=at, ran_by=ran_by)


@pytest.mark.django_db
def test_a_heartbeat_a_minute_old_keeps_the_worker_check_ok(client, frozen):
    _heartbeat(NOW - timedelta(seconds=61))
    assert client.get("/healthz").json()["checks"]["worker"] == {
        "ok": True, "heartbeat_age_seconds": 61, "last_heartbeat_at": "2026-11-23T17:58:59+00:00",
        "ran_by": "celery@worker-1", "max_age_minutes": 5,
    }  # fmt: skip


@pytest.mark.django_db
def test_a_heartbeat_older_than_five_minutes_fails_the_worker_check_and_stays_200(client, frozen):
    _heartbeat(NOW - timedelta(minutes=5, seconds=1))
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["checks"]["worker"]["ok"] is False
    assert response.json()["checks"]["worker"]["heartbeat_age_seconds"] == 301


@pytest.mark.django_db
def test_no_heartbeat_at_all_fails_the_worker_check(frozen):
    from smt_portal import health

    assert health._worker(NOW) == {
        "ok": False, "heartbeat_age_seconds": None, "last_heartbeat_at": None, "ran_by": None,
        "max_age_minutes": 5,
    }  # fmt: skip


# --- Liveness and readiness (issue 10 item 7) --------------------------------


def test_liveness_answers_200_without_touching_any_dependency(client, monkeypatch):
    from smt_portal import health

    def untouchable():
        raise AssertionError("liveness must not ask a dependency")

    for check in ("_database", "_cache", "_broker"):
        monkeypatch.setattr(health, check, untouchable)
    response = client.get("/healthz/live")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert client.head("/healthz/live").status_code == 200


@pytest.mark.django_db
def test_readiness_is_200_when_the_database_and_the_cache_answer(client):
    response = client.get("/healthz/ready")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ready", "checks": {"database": {"ok": True}, "cache": {"ok": True}},
    }  # fmt: skip
    assert client.head("/healthz/ready").status_code == 200


@pytest.mark.django_db
def test_readiness_is_503_when_the_cache_does_not_answer_while_healthz_stays_200(client, redis_at):
    redis_at(NOT_LISTENING)
    response = client.get("/healthz/ready")
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"
    assert response.json()["checks"]["database"] == {"ok": True}
    assert response.json()["checks"]["cache"]["ok"] is False
    # The contract's /healthz: the database alone decides.
    assert client.get("/healthz").status_code == 200
    assert client.get("/healthz/live").status_code == 200


@pytest.mark.django_db
def test_readiness_is_503_when_the_database_does_not_answer(client, monkeypatch):
    from smt_portal import health

    def broken():
        raise OSError("connection refused")

    monkeypatch.setattr(health, "_database", broken)
    response = client.get("/healthz/ready")
    assert response.status_code == 503
    assert response.json()["checks"]["database"] == {"ok": False, "error": "OSError"}


@pytest.mark.django_db
def test_readiness_does_not_ask_the_broker(client, monkeypatch):
    from smt_portal import health

    def broker_down():
        raise OSError("connection refused")

    # With the broker down, emails wait in the outbox: the API still serves.
    monkeypatch.setattr(health, "_broker", broker_down)
    assert client.get("/healthz/ready").status_code == 200
