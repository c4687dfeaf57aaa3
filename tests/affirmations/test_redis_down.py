"""Issue 4's acceptance test at the agreements' level, on the real Redis
transport: with the broker unreachable, agreements are still created; once the
relay runs, every affirmation email goes out, once."""

import logging
import os

import pytest
import time_machine
from celery import current_app

from outbox.models import EmailStatus, OutboundEmail
from outbox.tasks import relay_pending_emails
from tests.faults import NOT_LISTENING

from .conftest import NOW, request_agreement, residential

pytestmark = pytest.mark.skipif(
    not os.environ.get("REDIS_URL"), reason="needs REDIS_URL (the Redis transport)"
)


def _forget_connections():
    # Drop the app's pools so the next publish connects to the broker_url set now.
    current_app._pool = None
    current_app.amqp._producer_pool = None


@pytest.fixture
def broker_down():
    # The write URL too: publishing uses it when set (another test may set it).
    conf = current_app.conf
    saved = conf.get("broker_url"), conf.get("broker_write_url"), conf.task_always_eager
    conf.broker_url = conf.broker_write_url = NOT_LISTENING
    conf.task_always_eager = False
    _forget_connections()
    yield
    conf.broker_url, conf.broker_write_url, conf.task_always_eager = saved
    _forget_connections()


@pytest.mark.django_db(transaction=True)
def test_agreements_made_while_redis_is_down_each_get_their_email_once(
    active_csp, broker_down, mailoutbox, caplog
):
    # The clock ticks: kombu gives up on the broker after a timeout it measures.
    with time_machine.travel(NOW, tick=True), caplog.at_level(logging.WARNING, logger="outbox"):
        made = [request_agreement(active_csp, residential()) for _ in range(3)]

        assert caplog.text.count("could not publish email") == 3
        assert mailoutbox == []
        assert relay_pending_emails() == 3
        assert relay_pending_emails() == 0

    assert sorted(m.to[0] for m in mailoutbox) == sorted(a.customer_email for a in made)
    assert set(OutboundEmail.objects.values_list("status", flat=True)) == {EmailStatus.SENT}
