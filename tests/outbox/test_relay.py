from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from threading import Barrier

import pytest
from django.db import connection, connections
from django.utils import timezone

from outbox import services, tasks
from outbox.models import EmailStatus, OutboundEmail
from outbox.services import claim_lease, email_claim, emails_relay_pending
from outbox.tasks import relay_pending_emails, send_email
from tests.outbox.conftest import START

pytestmark = pytest.mark.django_db


def test_the_sweep_sends_every_email_left_unsent_once(queue_test_email, mailoutbox):
    # No on-commit callbacks ran: as if Redis or the worker had been down.
    for n in range(3):
        queue_test_email(to=f"customer{n}@example.com")

    assert relay_pending_emails() == 3
    assert relay_pending_emails() == 0

    assert sorted(m.to[0] for m in mailoutbox) == [
        "customer0@example.com",
        "customer1@example.com",
        "customer2@example.com",
    ]
    assert set(OutboundEmail.objects.values_list("status", flat=True)) == {EmailStatus.SENT}


def test_the_sweep_and_a_late_task_send_an_email_once(queue_test_email, mailoutbox):
    email = queue_test_email()

    assert relay_pending_emails() == 1
    assert send_email(email.pk) is False
    assert len(mailoutbox) == 1


def test_the_sweep_leaves_emails_in_backoff_until_they_are_due(queue_test_email, mailoutbox, clock):
    email = queue_test_email()
    OutboundEmail.objects.filter(pk=email.pk).update(
        attempts=1, next_attempt_at=timezone.now() + timedelta(minutes=1)
    )

    assert emails_relay_pending(now=timezone.now()) == 0
    clock.shift(timedelta(minutes=1))
    assert emails_relay_pending(now=timezone.now()) == 1
    assert len(mailoutbox) == 1


def test_the_sweep_takes_at_most_its_limit(queue_test_email, mailoutbox):
    for _ in range(3):
        queue_test_email()

    assert emails_relay_pending(now=timezone.now(), limit=2) == 2
    assert emails_relay_pending(now=timezone.now(), limit=2) == 1
    assert len(mailoutbox) == 3


def test_a_claim_is_reclaimed_once_it_is_older_than_the_timeout(
    queue_test_email, mailoutbox, clock
):
    email = queue_test_email()
    email_claim(email_id=email.pk, now=timezone.now())  # this worker then dies

    assert claim_lease() <= timedelta(minutes=5), "a dead worker strands its row for minutes"
    clock.shift(claim_lease() - timedelta(seconds=1))
    assert emails_relay_pending(now=timezone.now()) == 0
    clock.shift(timedelta(seconds=1))
    assert emails_relay_pending(now=timezone.now()) == 1

    email.refresh_from_db()
    assert email.status == EmailStatus.SENT
    assert email.attempts == 2
    assert len(mailoutbox) == 1


def test_a_claim_abandoned_after_the_email_stopped_being_useful_is_marked_failed(
    queue_test_email, mailoutbox, clock
):
    email = queue_test_email()
    OutboundEmail.objects.filter(pk=email.pk).update(
        deliver_until=timezone.now() + timedelta(seconds=30)
    )
    email_claim(email_id=email.pk, now=timezone.now())  # this worker then dies
    clock.shift(claim_lease())

    assert emails_relay_pending(now=timezone.now()) == 0

    email.refresh_from_db()
    assert email.status == EmailStatus.FAILED
    assert "no further attempts" in email.last_error
    assert mailoutbox == []


def test_a_crashed_worker_strands_only_the_row_it_was_sending(queue_test_email, mailoutbox):
    first, second, third = (queue_test_email(to=f"c{n}@example.com") for n in range(3))
    email_claim(email_id=first.pk, now=timezone.now())  # claimed, then the worker died

    assert emails_relay_pending(now=timezone.now()) == 2
    statuses = dict(OutboundEmail.objects.values_list("pk", "status"))
    assert statuses == {
        first.pk: EmailStatus.SENDING,
        second.pk: EmailStatus.SENT,
        third.pk: EmailStatus.SENT,
    }


def test_the_sweep_skips_a_row_another_worker_claimed_mid_sweep(
    queue_test_email, mailoutbox, monkeypatch
):
    first, second = queue_test_email(), queue_test_email()
    real_deliver = services._deliver
    taken = {}

    def deliver_while_another_worker_claims_the_second(email, *, token, now):
        taken.setdefault("token", email_claim(email_id=second.pk, now=now))
        return real_deliver(email, token=token, now=now)

    monkeypatch.setattr(services, "_deliver", deliver_while_another_worker_claims_the_second)

    assert emails_relay_pending(now=timezone.now()) == 1
    assert OutboundEmail.objects.get(pk=first.pk).status == EmailStatus.SENT
    assert OutboundEmail.objects.get(pk=second.pk).claim_token == taken["token"]
    assert len(mailoutbox) == 1


def test_sent_rows_keep_their_sent_time_and_are_never_swept_again(
    queue_test_email, mailoutbox, clock
):
    email = queue_test_email()
    sent_at = timezone.now()
    relay_pending_emails()
    clock.shift(timedelta(days=30))

    assert relay_pending_emails() == 0
    assert OutboundEmail.objects.get(pk=email.pk).sent_at == sent_at
    assert len(mailoutbox) == 1


def test_the_unsent_rows_index_is_partial():
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, OutboundEmail._meta.db_table)

    index = constraints["outbox_email_unsent_due_idx"]
    assert index["columns"] == ["next_attempt_at"]
    if connection.vendor == "postgresql":
        cursor_sql = "SELECT indexdef FROM pg_indexes WHERE indexname = %s"
    else:
        cursor_sql = "SELECT sql FROM sqlite_master WHERE name = %s"
    with connection.cursor() as cursor:
        cursor.execute(cursor_sql, ["outbox_email_unsent_due_idx"])
        (definition,) = cursor.fetchone()
    assert "WHERE" in definition.upper()


@pytest.mark.django_db(transaction=True)
def test_two_sweeps_running_at_once_send_each_email_once(mailoutbox, monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("needs a database that lets two connections write at once")
    monkeypatch.setattr(tasks.send_email, "delay", lambda email_id: None)  # no worker
    for n in range(40):
        services.email_queue(
            kind="test_message",
            to=f"c{n}@example.com",
            language="en",
            context={"name": "C", "company": "Co"},
            now=START,
        )
    barrier = Barrier(2)

    def sweep():
        barrier.wait()
        try:
            return emails_relay_pending(now=START, limit=25)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(2) as pool:
        counts = [f.result() for f in [pool.submit(sweep), pool.submit(sweep)]]

    assert sum(counts) == len(mailoutbox) >= 25
    assert len({m.to[0] for m in mailoutbox}) == len(mailoutbox)
    assert OutboundEmail.objects.filter(status=EmailStatus.SENT).count() == len(mailoutbox)
