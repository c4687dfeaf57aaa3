"""The worker's heartbeat: a periodic job only a consuming worker runs, kept in
the database so that its age survives a Redis restart."""

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
import time_machine
from django.conf import settings
from django.core.management import call_command

from smt_portal.models import WorkerHeartbeat
from smt_portal.tasks import IN_PROCESS, record_worker_heartbeat

NOW = datetime(2026, 11, 23, 18, 0, tzinfo=UTC)


def test_beat_queues_the_heartbeat_every_minute():
    assert settings.PERIODIC_JOBS["smt_portal.tasks.record_worker_heartbeat"] == 60
    entry = settings.CELERY_BEAT_SCHEDULE["smt_portal.tasks.record_worker_heartbeat"]
    assert entry == {"task": "smt_portal.tasks.record_worker_heartbeat", "schedule": 60.0}


@pytest.mark.django_db
def test_the_first_heartbeat_creates_the_one_row():
    WorkerHeartbeat.record(now=NOW, ran_by="celery@worker-1")
    assert list(WorkerHeartbeat.objects.values_list("pk", "beat_at", "ran_by")) == [
        (1, NOW, "celery@worker-1")
    ]


@pytest.mark.django_db
def test_a_later_heartbeat_moves_the_row_forward_and_an_earlier_one_does_not_move_it_back():
    WorkerHeartbeat.record(now=NOW, ran_by="celery@worker-1")
    WorkerHeartbeat.record(now=NOW + timedelta(minutes=1), ran_by="celery@worker-2")
    WorkerHeartbeat.record(now=NOW + timedelta(seconds=30), ran_by="celery@worker-1")
    assert WorkerHeartbeat.objects.count() == 1
    beat = WorkerHeartbeat.last()
    assert (beat.beat_at, beat.ran_by) == (NOW + timedelta(minutes=1), "celery@worker-2")


@pytest.mark.django_db
def test_the_job_run_by_a_worker_records_the_worker_and_its_now():
    with time_machine.travel(NOW, tick=False):
        # As a worker delivers it: not eager, with the worker's node name.
        record_worker_heartbeat.push_request(hostname="celery@worker-1", is_eager=False)
        try:
            record_worker_heartbeat.run()
        finally:
            record_worker_heartbeat.pop_request()
    beat = WorkerHeartbeat.last()
    assert (beat.beat_at, beat.ran_by) == (NOW, "celery@worker-1")


@pytest.mark.django_db
def test_run_jobs_runs_the_heartbeat_and_says_it_ran_in_process():
    with time_machine.travel(NOW, tick=False):
        call_command("run_jobs", only=["smt_portal.tasks.record_worker_heartbeat"],
                     stdout=StringIO())  # fmt: skip
    beat = WorkerHeartbeat.last()
    assert (beat.beat_at, beat.ran_by) == (NOW, IN_PROCESS)


@pytest.mark.django_db
def test_run_jobs_runs_every_periodic_job_including_the_heartbeat():
    out = StringIO()
    with time_machine.travel(NOW, tick=False):
        call_command("run_jobs", stdout=out)
    assert "smt_portal.tasks.record_worker_heartbeat" in out.getvalue()
    assert WorkerHeartbeat.last().beat_at == NOW
