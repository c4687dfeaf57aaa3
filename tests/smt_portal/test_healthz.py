import pytest


@pytest.mark.django_db
def test_healthz_reports_each_dependency(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "cache", "broker"}
    assert body["checks"]["database"] == {"ok": True}
    assert body["checks"]["cache"] == {"ok": True}


@pytest.mark.django_db
def test_healthz_is_503_when_the_database_does_not_answer(client, monkeypatch):
    from smt_portal import health

    def broken():
        raise OSError("connection refused")

    monkeypatch.setattr(health, "_database", broken)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["database"] == {"ok": False, "error": "OSError"}


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
