"""The Celery broker transport on Redis: kombu's, with one defect turned into what it is.

When Redis goes away while the worker holds an unacknowledged message,
celery closes the broken connection, and closing its channel restores the
unacknowledged messages through a connection that no longer has a client
(kombu 5.7.0, ``Channel._connparams`` reads ``connection.client.hostname``).
The ``AttributeError`` that follows is not among the transport's
connection errors, so the worker logs "Unrecoverable error" and exits, and
stays down unless something restarts it (the fault battery,
``bench/faults/battery.py``, shows it every time).

Here the same moment raises the Redis ``ConnectionError`` it really is: the
worker treats it as a lost broker, reconnects when Redis is back, and the
message left unacknowledged is restored by kombu after its visibility
timeout — or, for an email, sent by the outbox's relay long before.
"""

from kombu.transport import redis as kombu_redis


class Channel(kombu_redis.Channel):
    def _connparams(self, asynchronous=False):
        if self.connection is None or self.connection.client is None:
            raise kombu_redis.redis.exceptions.ConnectionError(
                "the broker connection was closed; reconnect before using this channel"
            )
        return super()._connparams(asynchronous=asynchronous)


class Transport(kombu_redis.Transport):
    Channel = Channel
