"""Outbox fixtures: a frozen clock and a helper that queues the test email."""

from datetime import UTC, datetime

import pytest
import time_machine
from django.utils import timezone

from outbox.services import email_queue

# Monday 23 November 2026, 09:00 in Chicago.
START = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)


@pytest.fixture
def clock():
    """A stopped clock; ``clock.shift(seconds)`` moves it."""
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


@pytest.fixture
def queue_test_email(clock):
    def queue(to="ana@example.com", language="en", **context):
        return email_queue(
            kind="test_message",
            to=to,
            language=language,
            context={"name": "Ana", "company": "Bright Data Co", **context},
            now=timezone.now(),
            related_label="test:1",
        )

    return queue
