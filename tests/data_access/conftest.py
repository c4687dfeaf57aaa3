"""Helpers for meter-data tests: an opted-in agreement, stored days, API reads."""

import csv
from datetime import datetime, timedelta

import pytest
from django.core.management import call_command

from affirmations import services
from premises.interval_feed import INTERVAL_COLUMNS, SURPLUS, day_csv_rows
from premises.intervals import intervals_in_day
from smt_portal.actors import Actor
from smt_portal.calendar import CENTRAL
from tests.affirmations.conftest import (  # noqa: F401 (fixtures)
    NOW,
    disclosure,
    frozen,
    request_agreement,
    residential,
)

TODAY = NOW.date()  # Monday 2026-11-23, Central
# The default 12-month history window of an agreement affirmed at NOW.
WINDOW_FIRST = TODAY.replace(year=TODAY.year - 1)
SPRING_FORWARD = TODAY.replace(year=2026, month=3, day=8)
FALL_BACK = TODAY.replace(year=2026, month=11, day=1)
CUSTOMER = Actor.customer(ip="198.51.100.7", user_agent="Tests")


def opted_in(csp, *premises, disclosure, now=NOW, term_months=12):  # noqa: F811
    """An agreement the customer affirmed through the real opt-in (data window stored)."""
    agreement = request_agreement(csp, *premises, term_months=term_months, now=now)
    return services.agreement_opt_in(agreement=agreement, actor=CUSTOMER, disclosure=disclosure,
                                     now=now)  # fmt: skip


def day_values(day, base=100):
    """A recognisable day: interval i of ``day`` holds base + i + day-of-year Wh."""
    return [base + index + day.timetuple().tm_yday for index in range(intervals_in_day(day))]


def _at(day, hours):
    """A revision the morning after ``day`` (or now, for today's)."""
    morning_after = datetime(day.year, day.month, day.day, tzinfo=CENTRAL) + timedelta(
        days=1, hours=hours
    )
    return min(morning_after, NOW)


def store_days(tmp_path, premise, first, last, *, base=100, estimated=(5,), surplus=False,
               revision=None, name="feed.csv"):  # fmt: skip
    """Import ``first``..``last`` for ``premise`` through ``import_intervals``."""
    path = tmp_path / name
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(INTERVAL_COLUMNS)
        day = first
        while day <= last:
            stamp = revision or _at(day, 6)
            writer.writerows(day_csv_rows(esi_id=premise.esi_id, day=day, wh=day_values(day, base),
                                          estimated=estimated, revision_at=stamp))  # fmt: skip
            if surplus:
                writer.writerows(day_csv_rows(esi_id=premise.esi_id, day=day,
                                              wh=[7] * intervals_in_day(day), revision_at=stamp,
                                              kind=SURPLUS))  # fmt: skip
            day += timedelta(days=1)
    call_command("import_intervals", str(path), "--no-progress")
    return path


def store_days_directly(premise, first, last, *, estimated=(5,)):
    """The same days as ``store_days`` through the store's writer, without the
    CSV (several times faster for a year; ``store_days`` tests the feed)."""
    import uuid

    from django.db import transaction

    from premises.interval_feed import DayReadings, interval_days_upsert

    days = []
    day = first
    while day <= last:
        days.append(DayReadings(esi_id=premise.esi_id, day=day, wh=day_values(day),
                                estimated=list(estimated), surplus_wh=None,
                                revision_at=_at(day, 6)))  # fmt: skip
        day += timedelta(days=1)
    with transaction.atomic():
        interval_days_upsert(days, now=NOW, batch=uuid.uuid4())


def read(client, agreement, kind="interval-data", *, esi_id, start, end, **params):
    query = {"esi_id": esi_id, "start": str(start), "end": str(end), **params}
    environ = {key: query.pop(key) for key in list(query) if key.isupper()}
    return client.get(f"/api/v1/agreements/{agreement.pk}/{kind}/", query, **environ)


def body_of(response):
    """The whole streamed body (which also writes the read's log row)."""
    return b"".join(response.streaming_content).decode()


@pytest.fixture
def home(db):
    return residential()
