"""The periodic sweeps: time-outs and term ends, set-based, catching up."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from affirmations import services
from affirmations.models import Agreement, AgreementStatus, EndedBy, Record, RecordEvent
from affirmations.records import records_verify
from outbox.models import OutboundEmail
from smt_portal.calendar import term_end

from .conftest import DEADLINE, NOW, make_active, request_agreement, residential

pytestmark = pytest.mark.django_db

MICROSECOND = timedelta(microseconds=1)


def status_of(agreement):
    agreement.refresh_from_db()
    return agreement.status


def test_a_request_is_still_pending_at_the_last_microsecond_of_its_deadline(active_csp):
    agreement = request_agreement(active_csp, residential())
    assert services.agreements_time_out(now=DEADLINE) == 0
    assert status_of(agreement) == AgreementStatus.PENDING_AFFIRMATION


def test_a_request_times_out_one_microsecond_after_its_deadline(active_csp):
    agreement = request_agreement(active_csp, residential())

    assert services.agreements_time_out(now=DEADLINE + MICROSECOND) == 1

    agreement.refresh_from_db()
    assert agreement.status == AgreementStatus.TIMED_OUT
    assert agreement.ended_at == DEADLINE + MICROSECOND
    assert agreement.ended_by == EndedBy.SYSTEM
    record = Record.objects.get(event=RecordEvent.TIMED_OUT)
    assert (record.agreement_id, record.csp_id) == (agreement.pk, active_csp.pk)
    assert record.details == {"from_status": "pending_affirmation", "to_status": "timed_out"}
    assert record.actor_type == "system"


def test_after_a_time_out_the_csp_may_ask_again(active_csp):
    home = residential()
    agreement = request_agreement(active_csp, home)
    later = DEADLINE + MICROSECOND
    services.agreements_time_out(now=later)

    assert not agreement.premises.get().is_open
    assert (
        request_agreement(active_csp, home, now=later).status == AgreementStatus.PENDING_AFFIRMATION
    )


def test_a_missed_run_catches_up_on_every_overdue_request(active_csp):
    week_one = [request_agreement(active_csp, residential(), now=NOW) for _ in range(2)]
    week_two = request_agreement(active_csp, residential(), now=NOW + timedelta(days=7))
    not_due = request_agreement(active_csp, residential(), now=NOW + timedelta(days=14))

    # No sweep ran for three weeks; the first one takes everything overdue.
    assert services.agreements_time_out(now=NOW + timedelta(days=21)) == 3
    assert {status_of(a) for a in [*week_one, week_two]} == {AgreementStatus.TIMED_OUT}
    assert status_of(not_due) == AgreementStatus.PENDING_AFFIRMATION
    assert services.agreements_time_out(now=NOW + timedelta(days=21)) == 0
    assert records_verify().intact


def test_the_time_out_sweep_leaves_active_and_ended_agreements_alone(active_csp):
    active = make_active(request_agreement(active_csp, residential()))
    ended = request_agreement(active_csp, residential())
    Agreement.objects.filter(pk=ended.pk).update(status=AgreementStatus.OPTED_OUT)

    assert services.agreements_time_out(now=DEADLINE + timedelta(days=30)) == 0
    assert status_of(active) == AgreementStatus.ACTIVE
    assert status_of(ended) == AgreementStatus.OPTED_OUT


def test_the_time_out_is_one_update_of_agreements_whatever_the_count(
    active_csp, django_assert_max_num_queries
):
    def sweep(count, *, after):
        for _ in range(count):
            request_agreement(active_csp, residential())
        with CaptureQueriesContext(connection) as captured:
            assert services.agreements_time_out(now=DEADLINE + after) == count
        return captured.captured_queries

    one = sweep(1, after=MICROSECOND)
    # select (lock), premises, renewals, agreements, chain head, records, head
    # update, the events (their agreements, premises, renewals, one INSERT),
    # plus the savepoints: the same few queries for 30 rows as for one.
    thirty = sweep(30, after=2 * MICROSECOND)
    assert len(thirty) == len(one) <= 20
    updates = [q["sql"] for q in thirty if q["sql"].startswith("UPDATE")]
    assert sum('"affirmations_agreement"' in sql.split("SET")[0] for sql in updates) == 1


def test_an_agreement_ends_at_its_term_end_not_a_microsecond_before(active_csp):
    agreement = make_active(request_agreement(active_csp, residential(), term_months=3))
    end = term_end(NOW, 3)

    assert services.agreements_end_terms(now=end - MICROSECOND) == 0
    assert status_of(agreement) == AgreementStatus.ACTIVE
    assert services.agreements_end_terms(now=end) == 1
    agreement.refresh_from_db()
    assert (agreement.status, agreement.ended_at) == (AgreementStatus.TERM_ENDED, end)
    assert not agreement.premises.get().is_open
    record = Record.objects.get(event=RecordEvent.TERM_ENDED)
    assert record.details == {"from_status": "active", "to_status": "term_ended"}


def _queries_to_end_terms(csp, count, django_assert_max_num_queries):
    for _ in range(count):
        make_active(request_agreement(csp, residential(), term_months=1))
    with django_assert_max_num_queries(100) as captured:
        assert services.agreements_end_terms(now=NOW + timedelta(days=365)) == count
    assert OutboundEmail.objects.filter(kind="receipt_term_ended").count() == count
    return len(captured.captured_queries)


def test_the_term_sweep_queues_its_receipts_in_the_same_queries_for_1_or_10(
    active_csp, django_assert_max_num_queries
):
    one = _queries_to_end_terms(active_csp, 1, django_assert_max_num_queries)
    OutboundEmail.objects.all().delete()
    ten = _queries_to_end_terms(active_csp, 10, django_assert_max_num_queries)
    assert one == ten


def test_the_term_sweep_catches_up_and_ignores_pending_requests(active_csp):
    old = make_active(request_agreement(active_csp, residential(), term_months=1))
    older = make_active(request_agreement(active_csp, residential(), term_months=2))
    pending = request_agreement(active_csp, residential())

    assert services.agreements_end_terms(now=NOW + timedelta(days=365)) == 2
    assert {status_of(old), status_of(older)} == {AgreementStatus.TERM_ENDED}
    assert status_of(pending) == AgreementStatus.PENDING_AFFIRMATION


def test_run_jobs_runs_both_sweeps(active_csp, time_machine):
    pending = request_agreement(active_csp, residential())
    active = make_active(request_agreement(active_csp, residential(), term_months=1))
    time_machine.move_to(NOW + timedelta(days=60), tick=False)

    call_command(
        "run_jobs",
        "--only", "affirmations.tasks.time_out_unanswered_requests",
        "--only", "affirmations.tasks.end_finished_terms",
    )  # fmt: skip

    assert status_of(pending) == AgreementStatus.TIMED_OUT
    assert status_of(active) == AgreementStatus.TERM_ENDED
