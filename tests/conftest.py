"""Shared fixtures. Personas and frozen clocks live here; apps add their own in
``tests/<app>/conftest.py``."""

import uuid

import pytest
import redis.connection
from celery import current_app

pytest_plugins = ["tests.personas", "tests.shifted_clock"]


@pytest.fixture(autouse=True)
def _celery_runs_inline(settings):
    # Tasks run in-process when their on-commit callbacks are executed
    # (django_capture_on_commit_callbacks(execute=True)); no broker is touched.
    current_app.conf.task_always_eager = True
    current_app.conf.task_eager_propagates = True
    yield
    current_app.conf.task_always_eager = False


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Staff logins in admin tests would otherwise spend ~0.3 s on PBKDF2 each.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(scope="session")
def _record_checkpoint_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("record-checkpoints")


@pytest.fixture(autouse=True)
def _own_record_checkpoint_file(settings, _record_checkpoint_dir):
    # Each test files (and verify_records reads) its own checkpoints (issue 16).
    settings.RECORD_CHECKPOINT_FILE = str(_record_checkpoint_dir / f"{uuid.uuid4().hex}.jsonl")


@pytest.fixture(autouse=True)
def _isolated_cache():
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def cache_down():
    """The cache (rate limits, the API keys' generation) on a Redis that is
    down, for the test's whole body; restored before ``_isolated_cache``
    tears down."""
    from django.test import override_settings

    from tests.faults import CACHE_DOWN

    with override_settings(CACHES=CACHE_DOWN):
        yield


@pytest.fixture
def round_trips(monkeypatch):
    """Counts what is sent to Redis: one send per round trip (a pipeline or a
    script is one send; every plain command is one)."""
    sent = []
    send = redis.connection.AbstractConnection.send_packed_command

    def counting(connection, command, check_health=True):
        sent.append(command)
        return send(connection, command, check_health)

    monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", counting)
    return sent
