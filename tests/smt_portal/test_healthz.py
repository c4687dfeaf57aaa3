from datetime import UTC, datetime, timedelta

import pytest


@pytest.mark.django_db
def test_healthz_reports_each_dependency(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "cache", "broker", "monitoring"}
    assert body["checks"]["database"] == {"ok": True}
    assert body["checks"]["cache"] == {"ok": True}
    assert body["checks"]["monitoring"] == {
        "ok": True, "failing_detectors": [], "last_run_at": None,
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


NOT_LISTENING = "redis://127.0.0.1:1/0"


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
