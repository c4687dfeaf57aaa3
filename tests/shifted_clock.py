"""Run the suite on a clock that is not today's.

A test that builds a deadline from a fixed date without freezing the clock
passes until the calendar reaches that date, then fails for good. Running the
suite with the whole process's clock moved shows such a test at once, not a
year later in CI.

``pytest --shifted-clock=2027-11-05T16:30-05:00`` (or ``SMT_TEST_CLOCK``)
starts the clock at that moment for the whole run; it ticks from there, and a
test that freezes or moves the clock itself still does so. ``--shifted-clock
=dst-friday`` picks the late afternoon of the Friday before a change of
daylight saving time in Central time, at least a year from today: the five
weekdays and the terms then cross a month end, a DST change and a year that
no fixed date in a test was written for.
"""

import os
from datetime import date, datetime, time, timedelta

import pytest
import time_machine

from smt_portal.calendar import CENTRAL

DST_FRIDAY = "dst-friday"


def pytest_addoption(parser):
    parser.addoption(
        "--shifted-clock",
        default=os.environ.get("SMT_TEST_CLOCK", ""),
        help=f"start the clock at this ISO 8601 moment, or {DST_FRIDAY!r}",
    )


def friday_before_a_dst_change(*, after: date) -> datetime:
    """16:30 Central on the first Friday on or after ``after`` whose Sunday changes the offset."""
    friday = after + timedelta(days=(4 - after.weekday()) % 7)
    while True:
        sunday = friday + timedelta(days=2)
        midnight = datetime.combine(sunday, time(0), tzinfo=CENTRAL).utcoffset()
        noon = datetime.combine(sunday, time(12), tzinfo=CENTRAL).utcoffset()
        if midnight != noon:
            return datetime.combine(friday, time(16, 30), tzinfo=CENTRAL)
        friday += timedelta(days=7)


def real_today() -> date:
    """Today in Central time on the real clock, even inside a shifted run."""
    hatch = time_machine.escape_hatch
    now = hatch.datetime.datetime.now if hatch.is_travelling() else datetime.now
    return now(CENTRAL).date()


def shifted_moment(value: str) -> datetime | None:
    if not value:
        return None
    if value == DST_FRIDAY:
        return friday_before_a_dst_change(after=real_today() + timedelta(days=365))
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise pytest.UsageError("--shifted-clock needs a UTC offset, e.g. 2027-11-05T16:30-05:00")
    return moment


def pytest_configure(config):
    moment = shifted_moment(config.getoption("--shifted-clock"))
    if moment is None:
        return
    traveller = time_machine.travel(moment, tick=True)
    traveller.start()
    config._shifted_clock = traveller


def pytest_unconfigure(config):
    traveller = getattr(config, "_shifted_clock", None)
    if traveller is not None:
        traveller.stop()


def pytest_report_header(config):
    moment = shifted_moment(config.getoption("--shifted-clock"))
    if moment is not None:
        return f"shifted clock: the run starts at {moment.isoformat()} ({moment:%A})"
    return None
