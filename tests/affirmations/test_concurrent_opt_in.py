"""16 simultaneous opt-in submissions of one request → one decision, one record.

Real threads, each with its own database connection and its own solved
challenge, all released at once through the whole Django stack. Needs
PostgreSQL (SQLite runs one writer at a time, so it proves nothing there).
"""

import threading

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from affirmations.models import Agreement, AgreementLink, AgreementStatus, Record, RecordEvent
from outbox.models import OutboundEmail

from .conftest import link_path, request_agreement, residential, solved_challenge

SUBMISSIONS = 16

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("cheap_altcha", "disclosure"),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="needs PostgreSQL (set DATABASE_URL)"
    ),
]


def test_sixteen_simultaneous_opt_ins_make_exactly_one_decision(active_csp):
    # Requested now: the opt-ins below run on the real clock, inside the deadline.
    agreement = request_agreement(active_csp, residential(), now=timezone.now())
    path = link_path(OutboundEmail.objects.get())
    link = AgreementLink.objects.get(agreement=agreement).pk
    browsers = []
    for _ in range(SUBMISSIONS):  # each tab opened the link and solved its own challenge
        browser = Client()
        assert browser.get(path).status_code == 302
        browsers.append((browser, solved_challenge()))
    start = threading.Barrier(SUBMISSIONS)
    answers, errors = [], []

    def submit(browser, solution):
        try:
            start.wait()
            response = browser.post(
                "/affirm/opt-in/",
                {
                    "link": link,
                    "acknowledge": "on",
                    "disclosure_version": 3,
                    "altcha": solution,
                },
            )
            answers.append(response.status_code)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=submit, args=pair) for pair in browsers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert not errors, errors
    assert answers == [302] * SUBMISSIONS
    assert Agreement.objects.get().status == AgreementStatus.ACTIVE
    assert Record.objects.filter(event=RecordEvent.OPTED_IN).count() == 1
    assert OutboundEmail.objects.filter(kind="receipt_opted_in").count() == 1
