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
batch size or the order, and a re-run replaces each day with itself.
"""

import math
import random
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from decimal import Decimal
from functools import lru_cache

from django.db import transaction

from premises.interval_feed import DayReadings, IntervalImportCounts, interval_days_upsert
from premises.intervals import interval_start, intervals_in_day
from premises.models import CustomerClass, MonthlyUsage, Premise
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


def intervals_generate(*, days, premises=None, seed, now, on_progress=None):
    """Write ``days`` local days of 15-minute data for the first ``premises`` premises."""
    last_day = now.astimezone(CENTRAL).date() - timedelta(days=1)
    first_day = last_day - timedelta(days=days - 1)
    window = [first_day + timedelta(days=i) for i in range(days)]
    queryset = Premise.objects.order_by("esi_id").values_list("id", "esi_id", "customer_class")
    chosen = list(queryset[:premises] if premises is not None else queryset)
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
                seed=seed,
                now=now,
            )
            for premise_id, esi_id, customer_class in batch
            for day in window
        )
        with transaction.atomic():
            interval_days_upsert(readings, now=now, counts=counts)
        if on_progress:
            on_progress(len(batch))
    return IntervalGenerationResult(len(chosen), first_day, last_day, counts)


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
    weights = [weight * rng.uniform(0.8, 1.2) for weight in shape]
    scale = total_wh / sum(weights)
    wh = [max(0, round(weight * scale)) for weight in weights]
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
