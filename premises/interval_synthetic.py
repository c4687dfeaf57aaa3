"""Synthetic 15-minute data (``generate_intervals``) consistent with monthly usage.

For each of the first premises by ESI ID and each of the last N local days
(up to yesterday: today is not over), the day's total is the premise's usage
for that month (``MonthlyUsage``: the month itself, else the same month a year
earlier, else its average month shaped by the Texas season, else a typical
home) spread over the month's days, a little higher at weekends for homes and
lower for businesses. The day is then shaped quarter-hour by quarter-hour: a
night trough and an evening peak, an afternoon air-conditioning peak in
summer, a morning bump in winter, business hours for commercial premises.
About one day in 30 has a run of estimated intervals and one in 20 was
revised a few days later.

Deterministic: each premise-day draws from its own generator seeded by
(seed, ESI ID, date), so the same seed writes the same values whatever the
batch size, the order or the number of parallel writers, and a re-run
replaces each day with itself.
"""

import math
import multiprocessing
import os
import queue
import random
import traceback
import uuid
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from decimal import Decimal
from functools import lru_cache

from django.db import connection, connections, transaction

from premises.interval_feed import (
    DayReadings,
    IntervalImportCounts,
    interval_days_upsert,
    interval_partitions_ensure,
)
from premises.intervals import interval_start, intervals_in_day
from premises.models import CustomerClass, MonthlyUsage, Premise
from premises.services import interval_writes_notify
from premises.synthetic import SEASON
from smt_portal.calendar import CENTRAL

BATCH_PREMISES = 200
TYPICAL_HOME_KWH = Decimal(1100)
ESTIMATED_DAY_SHARE = 1 / 30
REVISED_DAY_SHARE = 1 / 20


@dataclass(frozen=True)
class IntervalGenerationResult:
    premises: int
    first_day: object
    last_day: object
    counts: IntervalImportCounts
    workers: int = 1
    batch: uuid.UUID | None = None


def default_workers() -> int:
    return min(4, os.cpu_count() or 1)


def intervals_generate(*, days, premises=None, seed, now, workers=1, on_progress=None):
    """Write ``days`` local days of 15-minute data for the first ``premises`` premises.

    ``workers`` > 1 splits the premises, in ESI ID order, into that many
    disjoint ranges written at once by as many processes, each with its own
    connection, on PostgreSQL only (SQLite has one writer; and inside a
    transaction, a caller's or a test's, other connections could not see its
    uncommitted rows). The values do not depend on it. Every day written is
    recorded under one batch for the whole run, whose subscribers
    (``interval_writes_subscribe``) are told once every writer finished.
    """
    last_day = now.astimezone(CENTRAL).date() - timedelta(days=1)
    first_day = last_day - timedelta(days=days - 1)
    window = [first_day + timedelta(days=i) for i in range(days)]
    queryset = Premise.objects.order_by("esi_id").values_list("id", "esi_id", "customer_class")
    chosen = list(queryset[:premises] if premises is not None else queryset)
    batch = uuid.uuid4()
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        workers = 1
    workers = max(1, min(workers, len(chosen)))
    job = _Job(window=window, seed=seed, now=now, batch=batch)
    if workers == 1:
        counts = _write_range(chosen, job, on_progress)
    else:
        interval_partitions_ensure(first_day=first_day, last_day=last_day)
        size = len(chosen)
        ranges = [chosen[size * i // workers : size * (i + 1) // workers] for i in range(workers)]
        counts = _write_in_processes(ranges, job, on_progress)
    interval_writes_notify(batch=batch, now=now)
    return IntervalGenerationResult(len(chosen), first_day, last_day, counts, workers, batch)


@dataclass(frozen=True)
class _Job:
    window: list
    seed: int
    now: object
    batch: uuid.UUID


def _write_range(chosen, job, on_progress):
    """Write ``chosen`` premises' days, ``BATCH_PREMISES`` premises per transaction."""
    counts = IntervalImportCounts()
    for start in range(0, len(chosen), BATCH_PREMISES):
        batch = chosen[start : start + BATCH_PREMISES]
        usage = _monthly_usage([premise_id for premise_id, _, _ in batch])
        readings = (
            _day(
                esi_id=esi_id,
                commercial=customer_class == CustomerClass.COMMERCIAL,
                day=day,
                monthly_kwh=_month_kwh(usage.get(premise_id, {}), day),
                seed=job.seed,
                now=job.now,
            )
            for premise_id, esi_id, customer_class in batch
            for day in job.window
        )
        with transaction.atomic():
            interval_days_upsert(readings, now=job.now, batch=job.batch, counts=counts)
        if on_progress:
            on_progress(len(batch))
    return counts


def _write_in_processes(ranges, job, on_progress):
    """Run ``_write_range`` on each range in its own (forked) process; add up
    their counts, pass their progress on, and raise if any failed."""
    context = multiprocessing.get_context("fork")
    messages = context.Queue()
    # A forked child must not share the parent's socket: each opens its own.
    connections.close_all()
    processes = [
        context.Process(target=_worker, args=(index, part, job, messages), daemon=True)
        for index, part in enumerate(ranges)
    ]
    for process in processes:
        process.start()
    counts, finished, failures = IntervalImportCounts(), set(), []

    def handle(message):
        index, kind, value = message
        if kind == "progress":
            if on_progress:
                on_progress(value)
            return
        finished.add(index)
        if kind == "done":
            counts.days_written += value.days_written
            counts.days_kept += value.days_kept
            counts.readings += value.readings
        else:
            failures.append(value)

    while len(finished) < len(processes):
        try:
            handle(messages.get(timeout=1))
        except queue.Empty:
            gone = [
                i for i, p in enumerate(processes) if p.exitcode is not None and i not in finished
            ]
            if gone:  # what a worker sent before it exited is in the pipe by now
                _drain(messages, handle)
            for index in gone:
                if index not in finished:
                    finished.add(index)
                    failures.append(f"writer {index} exited with code {processes[index].exitcode}")
    for process in processes:
        process.join()
    if failures:
        raise IntervalGenerationFailed("; ".join(failures))
    return counts


def _drain(messages, handle):
    while True:
        try:
            handle(messages.get(timeout=0.5))
        except queue.Empty:
            return


def _worker(index, part, job, messages):
    try:
        counts = _write_range(part, job, lambda done: messages.put((index, "progress", done)))
        messages.put((index, "done", counts))
    except BaseException:
        messages.put((index, "failed", f"writer {index}: {traceback.format_exc()}"))
    finally:
        connections.close_all()
        messages.close()
        messages.join_thread()


class IntervalGenerationFailed(Exception):
    pass


def _monthly_usage(premise_ids):
    usage = {}
    for premise_id, month, kwh in MonthlyUsage.objects.filter(
        premise_id__in=premise_ids
    ).values_list("premise_id", "month", "kwh"):
        usage.setdefault(premise_id, {})[month] = kwh
    return usage


def _month_kwh(months, day):
    month = day.replace(day=1)
    if month in months:
        return months[month]
    year_before = month.replace(year=month.year - 1)
    if year_before in months:
        return months[year_before]
    season = Decimal(str(SEASON[month.month - 1]))
    if months:
        average = sum(kwh / Decimal(str(SEASON[m.month - 1])) for m, kwh in months.items()) / len(
            months
        )
        return average * season
    return TYPICAL_HOME_KWH * season


def _days_in_month(day):
    following = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    return (following - timedelta(days=1)).day


def _day(*, esi_id, commercial, day, monthly_kwh, seed, now):
    rng = random.Random(f"{seed}:{esi_id}:{day.isoformat()}")
    now_seconds = now.replace(microsecond=0)  # as precise as a file's REVISION_DATE
    weekend = day.weekday() >= 5
    factor = (0.6 if weekend else 1.16) if commercial else (1.1 if weekend else 0.96)
    total_wh = float(monthly_kwh) * 1000 / _days_in_month(day) * factor * rng.uniform(0.85, 1.15)
    summer = 6 <= day.month <= 9
    winter = day.month in (12, 1, 2)
    shape = _day_shape(day, commercial=commercial, summer=summer, winter=winter)
    count = len(shape)
    # rng.uniform(0.8, 1.2) per interval, spelled out (the same values, faster).
    draw, low, span = rng.random, 0.8, 1.2 - 0.8
    weights = [weight * (low + span * draw()) for weight in shape]
    scale = total_wh / sum(weights)
    wh = [round(weight * scale) for weight in weights]  # weights and scale are not negative
    estimated = []
    if rng.random() < ESTIMATED_DAY_SHARE:
        first = rng.randrange(count)
        estimated = list(range(first, min(count, first + rng.randint(4, 16))))
    revised_after = rng.randint(2, 5) if rng.random() < REVISED_DAY_SHARE else 1
    revision_at = datetime.combine(day + timedelta(days=revised_after), time(6), tzinfo=CENTRAL)
    return DayReadings(esi_id, day, wh, estimated, None, min(revision_at, now_seconds))


@lru_cache(maxsize=4096)
def _day_shape(day, *, commercial, summer, winter):
    """The relative load of each interval of ``day`` (92, 96 or 100 of them)."""
    hours = [
        start.hour + start.minute / 60
        for start in (interval_start(day, index) for index in range(intervals_in_day(day)))
    ]
    return tuple(
        _shape(hour, commercial=commercial, summer=summer, winter=winter) for hour in hours
    )


def _shape(hour, *, commercial, summer, winter):
    """Relative load at a local hour of the day (smooth bumps over a base)."""

    def bump(centre, width, height):
        return height * math.exp(-(((hour - centre) / width) ** 2))

    if commercial:
        load = 0.35 + bump(13, 4.5, 1.0)
        return load + (bump(15, 3, 0.6) if summer else 0)
    load = 0.45 + bump(19.5, 2.5, 0.8) + bump(7.5, 1.5, 0.35)
    if summer:
        load += bump(17, 3.5, 1.2)
    if winter:
        load += bump(7, 2, 0.4)
    return load
