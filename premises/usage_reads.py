"""Reading one premise's stored usage: the 15-minute days, and daily and monthly
figures derived from them (monthly billing usage where intervals are missing).

Every read of a range is one index range read on ``IntervalDay``'s primary key
(premise, day), at most 366 rows; what is read is decoded a day at a time, so
callers can stream their answer. Who may read what is not decided here
(``affirmations.rules.data_window``).
"""

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from .intervals import intervals_in_day, unpack_flags, unpack_wh
from .models import IntervalDay, MonthlyUsage


@dataclass(frozen=True, slots=True)
class StoredDay:
    """One local day as stored, decoded: what the data formats write."""

    day: date
    wh: list  # watt-hours in elapsed-time order (92, 96 or 100)
    estimated: list  # zero-based indexes into ``wh``
    surplus_wh: list | None
    revision_at: datetime
    # The readings as stored (``pack_wh``), when read from the store: a writer may
    # format them without going through the lists.
    wh_packed: bytes | None = None
    surplus_packed: bytes | None = None


class _Stamped:
    """The stored rows of a range, not yet decoded, with the stamps that identify them."""

    def __init__(self, rows):
        self.rows = rows

    def fingerprint(self, *parts) -> str:
        """A digest of what these rows hold (every day's readings, flags and
        revision): it changes with any change to a day, so it serves as an ETag.
        Hashing the bytes is cheaper than loading another timestamp per row."""
        digest = hashlib.sha256("|".join(str(part) for part in parts).encode())
        for day, wh, estimated, surplus_wh, revision_at in self.rows:
            digest.update(f"|{day}|{revision_at.timestamp()}|{len(wh)}|".encode())
            digest.update(wh)
            digest.update(b"|" + bytes(estimated) + b"|" + bytes(surplus_wh or b""))
        return digest.hexdigest()[:32]

    @property
    def revision_latest(self):
        return max((row[4] for row in self.rows), default=None)

    def __len__(self):
        return len(self.rows)

    def days(self) -> Iterator[StoredDay]:
        for day, wh, estimated, surplus_wh, revision_at in self.rows:
            yield StoredDay(
                day,
                unpack_wh(wh),
                unpack_flags(estimated) if estimated else [],
                unpack_wh(surplus_wh) if surplus_wh else None,
                revision_at,
                wh,
                surplus_wh or None,
            )


def interval_days_read(premise_id: int, first: date, last: date) -> _Stamped:
    """The stored days of ``premise_id`` from ``first`` to ``last`` (inclusive), by day."""
    rows = list(
        IntervalDay.objects.filter(premise_id=premise_id, day__gte=first, day__lte=last)
        .order_by("day")
        .values_list("day", "wh", "estimated", "surplus_wh", "revision_at")
    )
    return _Stamped(rows)


@dataclass(frozen=True, slots=True)
class DailyFigure:
    day: date
    wh: int
    estimated: bool  # any of the day's intervals was estimated
    intervals: int  # how many 15-minute readings it sums
    complete: bool  # every interval of the day is stored


def daily_figures(days: Iterator[StoredDay]) -> Iterator[DailyFigure]:
    """Each stored day's consumption: the sum of its intervals."""
    for stored in days:
        yield DailyFigure(
            day=stored.day,
            wh=sum(stored.wh),
            estimated=bool(stored.estimated),
            intervals=len(stored.wh),
            complete=len(stored.wh) == intervals_in_day(stored.day),
        )


@dataclass(frozen=True, slots=True)
class MonthlyFigure:
    month: date  # the 1st
    kwh: Decimal
    source: str  # "intervals" or "billing"
    days: int  # days summed from intervals (0 for billing)
    complete: bool  # the whole calendar month (billing, or every interval of every day)
    intervals: int


INTERVALS = "intervals"
BILLING = "billing"


def months_between(first: date, last: date) -> list[date]:
    month, months = first.replace(day=1), []
    while month <= last:
        months.append(month)
        month = (month + timedelta(days=32)).replace(day=1)
    return months


def _month_last_day(month: date) -> date:
    return (month + timedelta(days=32)).replace(day=1) - timedelta(days=1)


def monthly_usage_read(premise_id: int, first: date, last: date) -> list:
    """The billing months wholly inside ``first``..``last`` (a month reaching
    outside the range would say something about days outside it)."""
    months = [
        month
        for month in months_between(first, last)
        if month >= first and _month_last_day(month) <= last
    ]
    if not months:
        return []
    return list(
        MonthlyUsage.objects.filter(premise_id=premise_id, month__in=months)
        .order_by("month")
        .values_list("month", "kwh")
    )


def monthly_figures(first: date, last: date, daily: Iterator[DailyFigure], billing) -> list:
    """One figure per month of ``first``..``last`` that has data.

    A month is summed from intervals when they cover every one of its days in
    the range; otherwise its billing usage is the figure, if the billing month
    lies wholly in the range; otherwise the intervals there are, marked
    incomplete. Months with neither are left out.
    """
    summed = {}
    for figure in daily:
        month = figure.day.replace(day=1)
        wh, days, intervals, complete = summed.get(month, (0, 0, 0, True))
        summed[month] = (wh + figure.wh, days + 1, intervals + figure.intervals,
                         complete and figure.complete)  # fmt: skip
    billed = dict(billing)
    figures = []
    for month in months_between(first, last):
        days_in_range = (min(_month_last_day(month), last) - max(month, first)).days + 1
        wh, days, intervals, whole_days = summed.get(month, (0, 0, 0, False))
        kwh = Decimal(wh).scaleb(-3)
        # ``complete``: the figure is the whole calendar month's, every interval in.
        whole_month = whole_days and days == _month_last_day(month).day
        if days and days == days_in_range and whole_days:
            figures.append(MonthlyFigure(month, kwh, INTERVALS, days, whole_month, intervals))
        elif month in billed:
            figures.append(MonthlyFigure(month, billed[month], BILLING, 0, True, 0))
        elif days:
            figures.append(MonthlyFigure(month, kwh, INTERVALS, days, False, intervals))
    return figures
