"""Synthetic premises that look real, for the quick start, demos and load tests.

What "looks real" means here:
- TDUs in proportion to the meters they serve (``approx_meters``), ESI IDs with
  the TDU's prefix and length, service addresses in the towns it serves;
- a 9-digit meter number installed during or after the advanced-meter rollout;
- a REP of record drawn from the providers with a long-tailed market share
  (Zipf over certificate order: the oldest certificates are the incumbents);
- 90% residential, 10% commercial, a quarter of the commercial ones large
  (over 15,000 kWh every summer month, so large commercial at any date);
- 24 complete months of usage ending with the last complete month in Central
  time, shaped like Texas load: a July/August air-conditioning peak, a smaller
  winter one, mild spring and autumn.

Deterministic: candidate number i of seed S is always the same premise (for
the same clock month, which sets the usage window). Re-running is safe and
idempotent: a candidate whose ESI ID already exists is skipped, not renumbered,
so ``--count 1000`` twice creates 1,000 premises and ``--count 2000`` later
adds the next 1,000. A different seed draws a different ESI ID sequence; the
rare ID that collides with an existing premise (another seed, a real import)
is skipped and counted.

Writes go in batches, one transaction each (premise, meter and usage together,
so an interrupted run leaves only whole premises): PostgreSQL gets ``COPY``,
from several threads at once, other databases ``bulk_create``.
"""

import math
import random
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta
from functools import partial
from itertools import accumulate

from django.db import connection, transaction
from django.db.models import Exists, OuterRef

from premises.models import (
    CustomerClass,
    Meter,
    MonthlyUsage,
    Premise,
    RetailElectricProvider,
    Tdu,
)
from premises.services import premises_usage_peaks_refresh, usage_peak, usage_window
from smt_portal.calendar import CENTRAL

RESIDENTIAL = CustomerClass.RESIDENTIAL.value
COMMERCIAL = CustomerClass.COMMERCIAL.value
BATCH_SIZE = 5000
USAGE_MONTHS = 24
RESIDENTIAL_SHARE = 0.9
LARGE_SHARE_OF_COMMERCIAL = 0.25
REP_ZIPF_EXPONENT = 1.2
# Advanced meters went in from mid-2009; new construction keeps adding them.
METERS_FROM = date(2009, 6, 1)
METERS_UNTIL = date(2021, 12, 31)
# Monthly load relative to an average month, January first: Texas peaks with
# air conditioning in July and August and has a smaller heating bump in winter.
SEASON = (1.05, 0.92, 0.82, 0.80, 0.95, 1.22, 1.45, 1.50, 1.28, 0.98, 0.82, 0.96)

# (town, lowest ZIP, highest ZIP) in each TDU's territory.
TOWNS = {
    "ONCOR": [
        ("Dallas", 75201, 75254), ("Fort Worth", 76102, 76179), ("Arlington", 76001, 76018),
        ("Plano", 75023, 75094), ("Irving", 75038, 75063), ("Waco", 76701, 76712),
        ("Tyler", 75701, 75711), ("Midland", 79701, 79707), ("Odessa", 79761, 79766),
        ("Killeen", 76541, 76549), ("Round Rock", 78664, 78681), ("McKinney", 75069, 75072),
        ("Mesquite", 75149, 75150), ("Grand Prairie", 75050, 75054),
        ("Wichita Falls", 76301, 76310),
    ],
    "CENTERPOINT": [
        ("Houston", 77002, 77099), ("Pasadena", 77502, 77507), ("Katy", 77449, 77494),
        ("Sugar Land", 77478, 77479), ("Baytown", 77520, 77523), ("Pearland", 77581, 77584),
        ("Humble", 77338, 77346), ("Spring", 77373, 77389), ("Missouri City", 77459, 77489),
    ],
    "AEP_CENTRAL": [
        ("Corpus Christi", 78401, 78418), ("Laredo", 78040, 78046), ("McAllen", 78501, 78504),
        ("Harlingen", 78550, 78552), ("Victoria", 77901, 77905), ("Edinburg", 78539, 78542),
        ("Kingsville", 78363, 78363), ("Weslaco", 78596, 78596),
    ],
    "AEP_NORTH": [
        ("Abilene", 79601, 79606), ("San Angelo", 76901, 76905), ("Vernon", 76384, 76384),
        ("Sweetwater", 79556, 79556), ("Alpine", 79830, 79830), ("Fort Stockton", 79735, 79735),
    ],
    "TNMP": [
        ("League City", 77573, 77573), ("Texas City", 77590, 77591),
        ("Friendswood", 77546, 77546), ("Lewisville", 75057, 75067), ("Alvin", 77511, 77512),
        ("Dickinson", 77539, 77539), ("Pecos", 79772, 79772), ("Glen Rose", 76043, 76043),
    ],
}  # fmt: skip
OTHER_TOWNS = [("Austin", 78701, 78759), ("San Antonio", 78201, 78266)]
STREETS = (
    "Main", "Oak", "Elm", "Pecan", "Live Oak", "Mesquite", "Bluebonnet", "Cedar", "Magnolia",
    "Willow", "Lakeview", "Preston", "Camino Real", "Rio Grande", "San Jacinto", "Lamar",
    "Travis", "Crockett", "Bowie", "Guadalupe", "Alamo", "Lone Star", "Cypress", "Sycamore",
    "Hickory", "Post Oak", "Memorial", "Ranch", "Prairie", "Cottonwood", "Brazos", "Pinehurst",
)  # fmt: skip
SUFFIXES = ("St", "Ave", "Dr", "Ln", "Rd", "Blvd", "Ct", "Trl", "Pkwy", "Way", "Cir")


class SyntheticDataError(Exception):
    """The reference data the generator draws from is missing."""


@dataclass(frozen=True)
class GenerationResult:
    created: int
    skipped_existing: int
    usage_rows: int
    first_month: date
    last_month: date


@dataclass(slots=True)
class SyntheticPremise:
    esi_id: str
    tdu_id: int
    rep_id: int
    customer_class: str
    service_address: str
    meter_number: str
    installed_on: date
    kwh: list  # one text value with 3 decimals per month of the usage window


def premises_generate(*, count, seed, now, batch_size=BATCH_SIZE, workers=1, on_progress=None):
    """Create candidates ``0 .. count-1`` of ``seed`` that do not exist yet.

    ``workers`` > 1 writes that many batches at once on PostgreSQL, each thread
    with its own connection (the database, not Python, is the bottleneck);
    candidates are still drawn in order, so the result does not depend on it.
    """
    months = usage_months(now=now)
    draw = _Drawer(seed=seed, months=months, tdus=_tdus(), rep_ids=_rep_ids())
    write = _write_copy if connection.vendor == "postgresql" else _write_orm
    store = partial(_store, write=write, months=months, now=now)
    if not _can_write_in_parallel():
        workers = 1
    created = skipped = 0
    for drawn, stored in _stored(_batches(draw, count, batch_size), store, workers):
        created += stored
        skipped += drawn - stored
        if on_progress:
            on_progress(drawn)
    return GenerationResult(created, skipped, created * len(months), months[0], months[-1])


def _can_write_in_parallel():
    # SQLite has one writer; and inside a transaction (a caller's, or a test's)
    # other connections could not see its uncommitted rows, the TDUs included.
    return connection.vendor == "postgresql" and not connection.in_atomic_block


def _batches(draw, count, batch_size):
    remaining = count
    while remaining > 0:
        size = min(batch_size, remaining)
        remaining -= size
        yield [draw.premise() for _ in range(size)]


def _store(batch, *, write, months, now):
    """Write a batch's candidates that do not exist yet, in one transaction."""
    existing = set(
        Premise.objects.filter(esi_id__in=[p.esi_id for p in batch]).values_list(
            "esi_id", flat=True
        )
    )
    fresh = [p for p in batch if p.esi_id not in existing]
    with transaction.atomic():
        write(fresh, months=months, now=now)
    return len(fresh)


def _stored(batches, store, workers):
    """Yield ``(drawn, created)`` per batch, in order, ``workers`` batches in flight."""
    if workers <= 1:
        for batch in batches:
            yield len(batch), store(batch)
        return
    with ThreadPoolExecutor(workers) as pool:
        pending = deque()
        for batch in batches:
            pending.append((len(batch), pool.submit(_in_own_connection, store, batch)))
            if len(pending) >= workers:
                drawn, future = pending.popleft()
                yield drawn, future.result()
        while pending:
            drawn, future = pending.popleft()
            yield drawn, future.result()


def _in_own_connection(function, *args):
    try:
        return function(*args)
    finally:
        connection.close()  # this thread's connection; the next batch opens another


def usage_months(*, now):
    """First days of the ``USAGE_MONTHS`` complete months before ``now`` (Central)."""
    this_month = now.astimezone(CENTRAL).date().replace(day=1)
    index = this_month.year * 12 + this_month.month - 1
    return [
        date((index - back) // 12, (index - back) % 12 + 1, 1)
        for back in range(USAGE_MONTHS, 0, -1)
    ]


def premise_sample_triples(*, count, customer_class=None, min_monthly_kwh=None):
    """``(esi_id, meter_number, rep_certificate_number)`` of the first premises.

    What a CSP sends to authenticate a premise; the quick start shows a few,
    for its live key, so never a sandbox premise (a live key cannot see one).
    ``min_monthly_kwh`` keeps premises that reached it in some month (with
    ``customer_class="commercial"`` and 15,000: large commercial ones).
    """
    meters = Meter.objects.filter(removed_on=None, premise__sandbox=False)
    if customer_class:
        meters = meters.filter(premise__customer_class=customer_class)
    if min_monthly_kwh is not None:
        big_month = MonthlyUsage.objects.filter(
            premise_id=OuterRef("premise_id"), kwh__gte=min_monthly_kwh
        )
        meters = meters.filter(Exists(big_month))
    return list(
        meters.order_by("premise_id").values_list(
            "premise__esi_id", "number", "premise__rep_of_record__certificate_number"
        )[:count]
    )


def _tdus():
    tdus = list(Tdu.objects.order_by("code"))
    if not tdus:
        raise SyntheticDataError("no TDUs: run manage.py seed_reference_data first")
    return tdus


def _rep_ids():
    rep_ids = list(
        RetailElectricProvider.objects.filter(active=True)
        .order_by("certificate_number")
        .values_list("id", flat=True)
    )
    if not rep_ids:
        raise SyntheticDataError("no active REPs: run manage.py seed_reference_data first")
    return rep_ids


class _EsiIdStream:
    """Unique ESI IDs for one TDU prefix: an affine permutation of a counter.

    ``(a * n + b) mod 10**k`` with ``a`` coprime to 10 is a bijection on
    k-digit bodies, so IDs never repeat within a seed yet do not look sequential.
    """

    def __init__(self, *, seed, tdu, prefix):
        rng = random.Random(f"{seed}:{tdu.code}:{prefix}")
        self.tdu_id = tdu.pk
        self.prefix = prefix
        self.digits = tdu.esi_id_length - len(prefix)
        self.modulus = 10**self.digits
        self.multiplier = rng.randrange(self.modulus // 10, self.modulus) | 1
        while self.multiplier % 5 == 0:
            self.multiplier += 2
        self.offset = rng.randrange(self.modulus)
        self.count = 0

    def next_id(self):
        self.count += 1
        body = (self.multiplier * self.count + self.offset) % self.modulus
        return f"{self.prefix}{body:0{self.digits}d}"


class _Drawer:
    """Draws candidates in a fixed order from one seeded generator."""

    def __init__(self, *, seed, months, tdus, rep_ids):
        self.rng = random.Random(seed)
        self.streams, weights = [], []
        for tdu in tdus:
            for prefix in tdu.prefixes:
                self.streams.append(_EsiIdStream(seed=seed, tdu=tdu, prefix=prefix))
                weights.append(max(tdu.approx_meters, 1) / len(tdu.prefixes))
        self.stream_weights = list(accumulate(weights))
        self.towns = {tdu.pk: TOWNS.get(tdu.code, OTHER_TOWNS) for tdu in tdus}
        self.rep_ids = rep_ids
        self.rep_weights = list(
            accumulate(1 / (rank + 1) ** REP_ZIPF_EXPONENT for rank in range(len(rep_ids)))
        )
        self.seasons = [SEASON[month.month - 1] for month in months]

    def premise(self):
        rng = self.rng
        (stream,) = rng.choices(self.streams, cum_weights=self.stream_weights)
        (rep_id,) = rng.choices(self.rep_ids, cum_weights=self.rep_weights)
        residential = rng.random() < RESIDENTIAL_SHARE
        return SyntheticPremise(
            esi_id=stream.next_id(),
            tdu_id=stream.tdu_id,
            rep_id=rep_id,
            customer_class=(RESIDENTIAL if residential else COMMERCIAL),
            service_address=self._address(stream.tdu_id, residential),
            meter_number=str(rng.randrange(100_000_000, 1_000_000_000)),
            installed_on=METERS_FROM + timedelta(rng.randrange((METERS_UNTIL - METERS_FROM).days)),
            kwh=self._usage(residential),
        )

    def _address(self, tdu_id, residential):
        rng = self.rng
        town, zip_low, zip_high = rng.choice(self.towns[tdu_id])
        street = f"{rng.choice(STREETS)} {rng.choice(SUFFIXES)}"
        if residential:
            unit = f" Apt {rng.randrange(1, 400)}" if rng.random() < 0.15 else ""
            number = rng.randrange(100, 10_000)
        else:
            unit = f" Ste {rng.randrange(1, 30) * 10}" if rng.random() < 0.4 else ""
            number = rng.randrange(100, 20_000)
        return f"{number} {street}{unit}, {town}, TX {rng.randint(zip_low, zip_high)}"

    def _usage(self, residential):
        """Monthly kWh: a premise's own level and air-conditioning share, plus noise."""
        rng = self.rng
        cap = math.inf
        if residential:
            level, swing = rng.lognormvariate(math.log(1100), 0.35), rng.uniform(0.6, 1.3)
        elif rng.random() < LARGE_SHARE_OF_COMMERCIAL:
            # 12,000 x a summer factor of at least 1.45 x 0.9 noise stays above 15,000.
            level, swing = rng.uniform(12_000, 90_000), 1.0
        else:
            # Small commercial stays below the large-commercial threshold.
            level, swing, cap = rng.lognormvariate(math.log(3000), 0.6), 0.8, 14_500.0
        noise = rng.random
        return [
            f"{min(cap, level * (1 + swing * (season - 1)) * (0.9 + 0.2 * noise())):.3f}"
            for season in self.seasons
        ]


def _write_orm(premises, *, months, now):
    created = Premise.objects.bulk_create(
        [
            Premise(
                esi_id=p.esi_id,
                tdu_id=p.tdu_id,
                rep_of_record_id=p.rep_id,
                customer_class=p.customer_class,
                service_address=p.service_address,
            )
            for p in premises
        ]
    )
    Meter.objects.bulk_create(
        Meter(premise_id=row.pk, number=p.meter_number, installed_on=p.installed_on)
        for row, p in zip(created, premises, strict=True)
    )
    MonthlyUsage.objects.bulk_create(
        MonthlyUsage(premise_id=row.pk, month=month, kwh=kwh)
        for row, p in zip(created, premises, strict=True)
        for month, kwh in zip(months, p.kwh, strict=True)
    )
    premises_usage_peaks_refresh(premises=[row.pk for row in created], now=now)


def _write_copy(premises, *, months, now):
    """COPY in PostgreSQL's text format; ids come from the premise sequence first.

    The usage goes in before its premises (the foreign keys are checked at
    commit): the trigger that clears a premise's stored peak on a usage write
    then finds no premise to clear, and each premise row is written once, with
    its peak (``usage_peak``) already in it, instead of being updated twice.
    """
    if not premises:
        return
    with connection.cursor() as cursor:
        ids = _reserve_ids(cursor, Premise, len(premises))
        stamp = now.isoformat()
        month_texts = [month.isoformat() for month in months]
        _copy(
            cursor,
            MonthlyUsage,
            ["premise", "month", "kwh"],
            (
                f"{pk}\t{month}\t{kwh}\n"
                for pk, p in zip(ids, premises, strict=True)
                for month, kwh in zip(month_texts, p.kwh, strict=True)
            ),
        )
        _, window_end = usage_window(now=now)
        peaks = [_stored_peak(p, months=months, now=now) for p in premises]
        _copy(
            cursor,
            Premise,
            ["id", "esi_id", "tdu", "rep_of_record", "customer_class", "service_address"]
            + ["created_at", "updated_at", "usage_peak_kwh", "usage_peak_window_end"],
            (
                f"{pk}\t{p.esi_id}\t{p.tdu_id}\t{p.rep_id}\t{p.customer_class}\t"
                f"{_copy_text(p.service_address)}\t{stamp}\t{stamp}\t{peak}\t{window_end}\n"
                for pk, p, peak in zip(ids, premises, peaks, strict=True)
            ),
        )
        _copy(
            cursor,
            Meter,
            ["premise", "number", "installed_on"],
            (
                f"{pk}\t{p.meter_number}\t{p.installed_on}\n"
                for pk, p in zip(ids, premises, strict=True)
            ),
        )


def _stored_peak(candidate, *, months, now):
    """The candidate's peak as COPY text (``\\N`` for none). Each kWh text is
    paired with its float so the comparison is cheap and the text exact."""
    peak = usage_peak(
        monthly_kwh={
            month: (float(kwh), kwh) for month, kwh in zip(months, candidate.kwh, strict=True)
        },
        now=now,
    )
    return "\\N" if peak is None else peak[1]


def _reserve_ids(cursor, model, count):
    cursor.execute(
        "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
        [model._meta.db_table, model._meta.pk.column, count],
    )
    return [row[0] for row in cursor.fetchall()]


def _copy(cursor, model, field_names, lines):
    quote = connection.ops.quote_name
    columns = ", ".join(quote(model._meta.get_field(name).column) for name in field_names)
    with cursor.copy(f"COPY {quote(model._meta.db_table)} ({columns}) FROM STDIN") as copy:
        copy.write("".join(lines))


def _copy_text(value):
    """Escape a value for COPY's text format (addresses are ours, but be exact)."""
    return (
        value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    )
