"""The broker transport: a channel whose connection was closed says so as a
connection error (which the worker recovers from), never an AttributeError
(which made it exit)."""

import os

import pytest
from celery import current_app
from kombu import Connection

from smt_portal.broker import Transport

pytestmark = pytest.mark.skipif(
    not os.environ.get("REDIS_URL"), reason="needs REDIS_URL (the Redis transport)"
)


def test_the_portal_uses_its_transport_with_redis(settings):
    assert settings.CELERY_BROKER_TRANSPORT == "smt_portal.broker:Transport"
    with current_app.connection_for_write() as connection:
        assert isinstance(connection.transport, Transport)


def test_a_channel_of_a_closed_connection_raises_a_recoverable_connection_error():
    connection = Connection(os.environ["REDIS_URL"], transport=Transport)
    channel = connection.channel()
    channel.connection.client = None  # what Connection._close leaves behind
    with pytest.raises(connection.connection_errors):
        channel._connparams()
    with pytest.raises(connection.connection_errors):
        channel.qos.restore_unacked()
    connection.release()


def test_an_open_channel_connects_as_kombus_does():
    with Connection(os.environ["REDIS_URL"], transport=Transport) as connection:
        channel = connection.channel()
        params = channel._connparams()
        assert params["host"] == "127.0.0.1"
        assert channel.client.ping()
