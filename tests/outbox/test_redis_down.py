"""The issue's acceptance test, against the real Redis transport: with the broker
unreachable a request that queues an email still commits, and the sweep sends
the email exactly once when it runs."""

import logging
import os

import pytest
import time_machine
from celery import current_app
from django.db import transaction
from django.utils import timezone

from outbox.models import EmailStatus, OutboundEmail
from outbox.services import email_queue
from outbox.tasks import relay_pending_emails
from tests.faults import NOT_LISTENING
from tests.outbox.conftest import START

pytestmark = pytest.mark.skipif(
    not os.environ.get("REDIS_URL"), reason="needs REDIS_URL (the Redis transport)"
)


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


def _forget_connections():
    # The app keeps its connection and producer pools; drop them so the next
    # publish connects to the broker_url set now.
    current_app._pool = None
    current_app.amqp._producer_pool = None


@pytest.mark.django_db(transaction=True)
def test_with_redis_down_the_commit_succeeds_and_the_sweep_sends_once(
    broker_down, mailoutbox, caplog
):
    # The clock ticks: kombu gives up on the broker after a timeout it measures.
    with time_machine.travel(START, tick=True):
        with caplog.at_level(logging.WARNING, logger="outbox"), transaction.atomic():
            email = email_queue(
                kind="test_message",
                to="ana@example.com",
                language="en",
                context={"name": "Ana", "company": "Bright Data Co"},
                now=timezone.now(),
            )

        assert f"could not publish email {email.pk}" in caplog.text
        assert "ana@example.com" not in caplog.text
        email.refresh_from_db()
        assert email.status == EmailStatus.PENDING
        assert mailoutbox == []

        assert relay_pending_emails() == 1
        assert relay_pending_emails() == 0

    assert len(mailoutbox) == 1
    assert OutboundEmail.objects.get(pk=email.pk).status == EmailStatus.SENT
