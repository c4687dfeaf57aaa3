"""Every run that writes 15-minute days records which premises got which days
(``IntervalWrite``, in the same transaction) and then tells the subscribers of
``interval_writes_subscribe`` its batch, once."""

import csv
import logging
from datetime import date, datetime
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db import connection

from premises import interval_synthetic, services
from premises.interval_feed import INTERVAL_COLUMNS, day_csv_rows
from premises.models import IntervalDay, IntervalWrite, Premise
from premises.seed import seed_reference_data
from premises.synthetic import premises_generate

CENTRAL = ZoneInfo("America/Chicago")
NOW = datetime(2026, 7, 1, 12, tzinfo=CENTRAL)
JUNE = [date(2026, 6, day) for day in range(1, 31)]


@pytest.fixture
def premises(db):
    seed_reference_data(stdout=StringIO())
    with time_machine.travel(NOW, tick=False):
        premises_generate(count=5, seed=3, now=NOW)
    return list(Premise.objects.order_by("esi_id"))


@pytest.fixture
def calls(monkeypatch):
    """The calls of a subscriber registered for the test, the only one (the
    apps' own, which consume the rows, are set aside)."""
    received = []

    def subscriber(*, batch, now):
        received.append((batch, now))

    monkeypatch.setattr(services, "_interval_write_subscribers", [])
    services.interval_writes_subscribe(subscriber)
    return received


@pytest.fixture
def feed(tmp_path):
    counter = iter(range(1000))

    def write(*days):
        """``days``: (premise, day, revision day) triples, each a whole day of 100 Wh."""
        path = tmp_path / f"intervals-{next(counter)}.csv"
        with open(path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(INTERVAL_COLUMNS)
            for premise, day, revised in days:
                writer.writerows(
                    day_csv_rows(
                        esi_id=premise.esi_id,
                        day=day,
                        wh=[100] * 96,
                        revision_at=datetime.combine(revised, datetime.min.time(), CENTRAL),
                    )
                )
        return path

    return write


def run_import(path):
    with time_machine.travel(NOW, tick=False):
        call_command("import_intervals", str(path), stdout=StringIO(), stderr=StringIO())


def generate(*args):
    out = StringIO()
    with time_machine.travel(NOW, tick=False):
        call_command("generate_intervals", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def recorded():
    return sorted(
        IntervalWrite.objects.values_list("premise_id", "first_day", "last_day", "written_at")
    )


def test_an_import_records_per_premise_the_range_of_days_it_wrote(premises, feed, calls):
    first, second = premises[:2]
    run_import(
        feed((first, JUNE[0], JUNE[1]), (first, JUNE[2], JUNE[3]), (second, JUNE[4], JUNE[5]))
    )
    assert recorded() == sorted(
        [(first.pk, JUNE[0], JUNE[2], NOW), (second.pk, JUNE[4], JUNE[4], NOW)]
    )
    assert len(set(IntervalWrite.objects.values_list("batch", flat=True))) == 1


def test_days_kept_because_a_later_revision_is_stored_are_not_recorded(premises, feed, calls):
    first, second = premises[:2]
    run_import(feed((first, JUNE[0], JUNE[5]), (second, JUNE[0], JUNE[5])))
    IntervalWrite.objects.all().delete()
    # The first premise's 1 June is an older revision (kept); its 3 June is new.
    run_import(
        feed((first, JUNE[0], JUNE[1]), (first, JUNE[2], JUNE[3]), (second, JUNE[0], JUNE[1]))
    )
    assert recorded() == [(first.pk, JUNE[2], JUNE[2], NOW)]


def test_the_subscribers_are_called_once_with_the_batch_after_the_import(premises, feed, calls):
    run_import(feed((premises[0], JUNE[0], JUNE[1]), (premises[1], JUNE[0], JUNE[1])))
    assert calls == [(IntervalWrite.objects.values_list("batch", flat=True).first(), NOW)]
    run_import(feed((premises[0], JUNE[1], JUNE[2])))
    assert len(calls) == 2
    assert calls[0][0] != calls[1][0]


def test_a_refused_import_records_nothing_and_calls_no_subscriber(premises, feed, calls):
    path = feed((premises[0], JUNE[0], JUNE[1]))
    with open(path, "a", encoding="utf-8") as handle:
        handle.write("10443720009999999,06/02/2026,06/03/2026,00:00,00:15,1.000,A,Consumption\n")
    with pytest.raises(CommandError):
        run_import(path)
    assert IntervalDay.objects.count() == 0
    assert recorded() == []
    assert calls == []


def test_a_failing_subscriber_is_logged_and_undoes_nothing(premises, feed, calls, caplog):
    def broken(*, batch, now):
        IntervalDay.objects.all().delete()  # inside the subscriber's own savepoint
        raise RuntimeError("subscriber broke")

    services._interval_write_subscribers.insert(0, broken)  # before the test's subscriber
    with caplog.at_level(logging.ERROR, logger="premises.services"):
        run_import(feed((premises[0], JUNE[0], JUNE[1])))
    assert "interval writes subscriber" in caplog.text
    assert IntervalDay.objects.count() == 1
    assert recorded() == [(premises[0].pk, JUNE[0], JUNE[0], NOW)]
    assert len(calls) == 1  # the next subscriber was still told


def test_generating_records_each_premise_s_window_under_one_batch_and_tells_once(premises, calls):
    generate("--days", "30", "--premises", "3", "--seed", "7")
    assert recorded() == sorted((premise.pk, JUNE[0], JUNE[-1], NOW) for premise in premises[:3])
    assert calls == [(IntervalWrite.objects.values_list("batch", flat=True).first(), NOW)]


def test_on_sqlite_or_inside_a_transaction_there_is_one_writer_whatever_workers_says(premises):
    out = generate("--days", "2", "--seed", "7", "--workers", "3")
    assert "10 days written" in out
    assert "(1 writer)" in out


def stored_rows():
    return sorted(
        (day.premise_id, day.day, bytes(day.wh), bytes(day.estimated), day.revision_at)
        for day in IntervalDay.objects.all()
    )


@pytest.mark.django_db(transaction=True)
def test_parallel_writers_store_exactly_what_one_writer_stores(calls):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has one writer")
    seed_reference_data(stdout=StringIO())
    with time_machine.travel(NOW, tick=False):
        premises_generate(count=9, seed=3, now=NOW)
    generate("--days", "10", "--seed", "7", "--workers", "1")
    alone = stored_rows()
    IntervalDay.objects.all().delete()
    IntervalWrite.objects.all().delete()
    calls.clear()
    out = generate("--days", "10", "--seed", "7", "--workers", "2")
    assert "9 premises, 2026-06-21 to 2026-06-30: 90 days written, 0 days kept" in out
    assert "(2 writers)" in out
    assert stored_rows() == alone
    # Both writers recorded under the run's one batch, told once.
    assert calls == [(IntervalWrite.objects.values_list("batch", flat=True).first(), NOW)]
    assert set(IntervalWrite.objects.values_list("batch", flat=True)) == {calls[0][0]}
    assert sorted(IntervalWrite.objects.values_list("premise_id", "first_day", "last_day")) == [
        (premise_id, date(2026, 6, 21), date(2026, 6, 30))
        for premise_id in sorted(Premise.objects.values_list("pk", flat=True))
    ]


@pytest.mark.django_db(transaction=True)
def test_a_parallel_writer_that_fails_fails_the_command_and_tells_no_subscriber(monkeypatch, calls):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has one writer")
    seed_reference_data(stdout=StringIO())
    with time_machine.travel(NOW, tick=False):
        premises_generate(count=4, seed=3, now=NOW)
    last = Premise.objects.order_by("esi_id").last()
    real_day = interval_synthetic._day

    def day(**fields):
        if fields["esi_id"] == last.esi_id:
            raise RuntimeError("the shape broke")
        return real_day(**fields)

    monkeypatch.setattr(interval_synthetic, "_day", day)  # inherited by the forked writers
    with pytest.raises(CommandError, match=r"(?s)writer 1: .*the shape broke"):
        generate("--days", "2", "--seed", "7", "--workers", "2")
    assert calls == []
    assert last.pk not in set(IntervalDay.objects.values_list("premise_id", flat=True))
