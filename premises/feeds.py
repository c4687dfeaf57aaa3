"""TDU feeds: premises (``import_premises``) and monthly usage (``import_usage``).

Both are all-or-nothing. Every row is validated before anything is written; a
file with any bad row is refused with each bad row named by its line, and the
writes run in one transaction. A file is read twice (validate, then apply)
rather than held in memory, so a feed of millions of rows needs memory only for
its keys (to find duplicates); the database is read in chunks, a few queries
per chunk and none per row.
"""

import csv
import re
from dataclasses import dataclass, fields
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from itertools import islice

from django.db import transaction

from premises.identifiers import (
    InvalidIdentifier,
    normalize_certificate_number,
    normalize_esi_id,
    normalize_meter_number,
    tdu_for_esi_id,
)
from premises.models import (
    CustomerClass,
    Meter,
    MonthlyUsage,
    Premise,
    RetailElectricProvider,
    Tdu,
)
from premises.services import occupants_changed_notify, premises_usage_peaks_refresh
from smt_portal.calendar import CENTRAL

CHUNK_SIZE = 2000
PREMISE_COLUMNS = (
    "esi_id",
    "meter_number",
    "rep_certificate_number",
    "customer_class",
    "service_address",
)
# Optional: the current customer's move-in date (glossary, "move-in ends consent").
PREMISE_OPTIONAL_COLUMNS = ("occupant_since",)
USAGE_COLUMNS = ("esi_id", "month", "kwh")
# ASCII only: \d would also take Arabic-Indic or full-width digits.
_MONTH = re.compile(r"^([0-9]{4})-([0-9]{2})$")
_DATE = re.compile(r"^([0-9]{4})-([0-9]{2})-([0-9]{2})$")
_ADDRESS_MAX = Premise._meta.get_field("service_address").max_length
_KWH_LIMIT = Decimal(10) ** 9  # max_digits=12, decimal_places=3


class FeedRejected(Exception):
    """A feed refused as a whole; ``problems`` lists ``(line or None, reason)``."""

    def __init__(self, problems):
        self.problems = sorted(problems, key=lambda problem: problem[0] or 0)
        super().__init__(f"{len(self.problems)} problem(s); nothing was imported")


class _BadRow(ValueError):
    pass


@dataclass
class PremiseImportCounts:
    created: int = 0
    meter_exchanges: int = 0
    rep_switches: int = 0
    details_updated: int = 0
    unchanged: int = 0
    move_ins: int = 0

    def __str__(self):
        return _describe_counts(self)


@dataclass
class UsageImportCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    def __str__(self):
        return _describe_counts(self)


def _describe_counts(counts):
    return ", ".join(
        f"{getattr(counts, field.name)} {field.name.replace('_', ' ')}" for field in fields(counts)
    )


# --- Premise feed -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PremiseRow:
    esi_id: str
    meter_number: str
    tdu_id: int
    rep_id: int
    customer_class: str
    service_address: str
    occupant_since: date | None = None  # None: the feed does not say


def premise_feed_import(*, path, now, effective_date=None):
    """Validate then upsert a premise feed; returns ``PremiseImportCounts``.

    A new ESI ID becomes a premise with an active meter; a known one with a
    new meter number is a meter exchange (the old meter is removed on the
    effective date, default today in Central time); a new certificate number
    is a switch of REP of record; an identical row changes nothing. A new
    ``occupant_since`` is a move-in: once written, the subscribers of
    ``premises.services.occupants_changed_subscribe`` are told in the same
    transaction (the agreements of the former customer end).
    """
    today = now.astimezone(CENTRAL).date()
    effective_date = effective_date or today
    parse = _premise_parser(tdus=list(Tdu.objects.all()), rep_ids=_rep_ids(), today=today)
    columns = (PREMISE_COLUMNS, PREMISE_OPTIONAL_COLUMNS)
    problems = _problems(
        _parsed(path, columns, parse),
        key=lambda row: row.esi_id,
        duplicate=lambda row, first: f"ESI ID {row.esi_id} appears again (first on line {first})",
    )
    if problems:
        raise FeedRejected(problems)
    counts = PremiseImportCounts()
    conflicts, moved_in = [], []
    with transaction.atomic():
        for chunk in _chunks(_valid_rows(path, columns, parse), CHUNK_SIZE):
            conflicts += _premise_chunk_apply(
                chunk, effective_date=effective_date, now=now, counts=counts, moved_in=moved_in
            )
        if conflicts:
            raise FeedRejected(conflicts)  # rolls the whole transaction back
        if moved_in:
            occupants_changed_notify(premise_ids=moved_in, now=now)
    return counts


def _rep_ids():
    # Retired REPs are accepted: the TDU's feed, not the admin, says who serves a premise.
    return dict(RetailElectricProvider.objects.values_list("certificate_number", "id"))


def _premise_parser(*, tdus, rep_ids, today):
    if not tdus:
        raise FeedRejected([(None, "no TDUs are known: run manage.py seed_reference_data")])

    def parse(record):
        reasons = []
        esi_id = _field(reasons, normalize_esi_id, record["esi_id"])
        tdu = esi_id and _field(reasons, tdu_for_esi_id, esi_id, tdus)
        meter_number = _field(reasons, normalize_meter_number, record["meter_number"])
        rep_id = _field(reasons, _rep_id, record["rep_certificate_number"], rep_ids)
        customer_class = _field(reasons, _customer_class, record["customer_class"])
        address = _field(reasons, _service_address, record["service_address"])
        occupant_since = _field(reasons, _occupant_since, record.get("occupant_since", ""), today)
        if reasons:
            raise _BadRow("; ".join(reasons))
        return PremiseRow(
            esi_id, meter_number, tdu.id, rep_id, customer_class, address, occupant_since
        )

    return parse


def _field(reasons, parse, *args):
    """Parse one field, noting why it is bad so a line reports all its faults."""
    try:
        return parse(*args)
    except (InvalidIdentifier, _BadRow) as exc:
        reasons.append(str(exc))
        return None


def _rep_id(raw, rep_ids):
    certificate = normalize_certificate_number(raw)
    if certificate not in rep_ids:
        raise _BadRow(f"unknown REP certificate number {certificate}")
    return rep_ids[certificate]


def _customer_class(raw):
    value = raw.strip().lower()
    if value not in CustomerClass.values:
        raise _BadRow(f"customer_class must be residential or commercial, not {raw!r}")
    return value


def _service_address(raw):
    value = " ".join(raw.split())
    if not value:
        raise _BadRow("service address is empty")
    if len(value) > _ADDRESS_MAX:
        raise _BadRow(f"service address is longer than {_ADDRESS_MAX} characters")
    return value


def _occupant_since(raw, today):
    value = raw.strip()
    if not value:
        return None
    match = _DATE.match(value)
    try:
        day = date(int(match[1]), int(match[2]), int(match[3])) if match else None
    except ValueError:
        day = None
    if day is None:
        raise _BadRow(f"occupant_since must be YYYY-MM-DD, not {raw!r}")
    if day > today:
        raise _BadRow(f"occupant_since {value} is in the future")
    return day


def _premise_chunk_apply(chunk, *, effective_date, now, counts, moved_in):
    """Upsert one chunk in a fixed number of queries; returns rows it cannot apply."""
    premises = Premise.objects.in_bulk([row.esi_id for _, row in chunk], field_name="esi_id")
    active = {
        meter.premise_id: meter
        for meter in Meter.objects.filter(premise__in=list(premises.values()), removed_on=None)
    }
    new_rows, exchanges, changed, conflicts = [], [], [], []
    for line, row in chunk:
        premise = premises.get(row.esi_id)
        if premise is None:
            new_rows.append(row)
            continue
        meter = active.get(premise.pk)
        exchange = meter is None or meter.number != row.meter_number
        if exchange and meter is not None and meter.installed_on > effective_date:
            conflicts.append((line, _late_meter(meter, effective_date)))
            continue
        if exchange:
            exchanges.append((premise, meter, row))
        if _premise_row_apply(premise, row, counts=counts, now=now, moved_in=moved_in):
            changed.append(premise)
        elif not exchange:
            counts.unchanged += 1
    if not conflicts:
        _premise_chunk_write(new_rows, exchanges, changed, effective_date=effective_date)
        counts.created += len(new_rows)
        counts.meter_exchanges += len(exchanges)
    return conflicts


def _late_meter(meter, effective_date):
    return (
        f"the active meter {meter.number} was installed on {meter.installed_on}, after the "
        f"effective date {effective_date}; give a later --effective-date"
    )


def _premise_row_apply(premise, row, *, counts, now, moved_in):
    """Copy a row's REP, class, address and move-in date onto ``premise``; True
    when any changed (a new move-in date also goes into ``moved_in``)."""
    switched = premise.rep_of_record_id != row.rep_id
    details = (premise.customer_class, premise.service_address) != (
        row.customer_class,
        row.service_address,
    )
    move_in = row.occupant_since is not None and row.occupant_since != premise.occupant_since
    counts.rep_switches += switched
    counts.details_updated += details
    counts.move_ins += move_in
    if move_in:
        moved_in.append(premise.pk)
        premise.occupant_since = row.occupant_since
    premise.rep_of_record_id = row.rep_id
    premise.customer_class = row.customer_class
    premise.service_address = row.service_address
    premise.updated_at = now  # bulk_update does not apply auto_now
    return switched or details or move_in


def _premise_chunk_write(new_rows, exchanges, changed, *, effective_date):
    created = Premise.objects.bulk_create(
        [
            Premise(
                esi_id=row.esi_id,
                tdu_id=row.tdu_id,
                rep_of_record_id=row.rep_id,
                customer_class=row.customer_class,
                service_address=row.service_address,
                occupant_since=row.occupant_since,
            )
            for row in new_rows
        ]
    )
    # Remove the old meters before installing the new ones: at no moment may a
    # premise have two active meters (one_active_meter_per_premise).
    removed = [meter.pk for _, meter, _ in exchanges if meter is not None]
    Meter.objects.filter(pk__in=removed).update(removed_on=effective_date)
    installs = [(premise, row) for premise, row in zip(created, new_rows, strict=True)]
    installs += [(premise, row) for premise, _, row in exchanges]
    Meter.objects.bulk_create(
        [
            Meter(premise=premise, number=row.meter_number, installed_on=effective_date)
            for premise, row in installs
        ]
    )
    if changed:
        Premise.objects.bulk_update(
            changed,
            ["rep_of_record", "customer_class", "service_address", "occupant_since", "updated_at"],
        )


# --- Usage feed ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UsageRow:
    esi_id: str
    month: date
    kwh: Decimal


def usage_feed_import(*, path, now):
    """Validate then upsert a monthly usage feed; returns ``UsageImportCounts``."""
    current_month = now.astimezone(CENTRAL).date().replace(day=1)
    parse = _usage_parser(current_month=current_month)
    problems = _usage_problems(path, parse)
    if problems:
        raise FeedRejected(problems)
    counts = UsageImportCounts()
    with transaction.atomic():
        for chunk in _chunks(_valid_rows(path, USAGE_COLUMNS, parse), CHUNK_SIZE):
            _usage_chunk_apply(chunk, counts=counts, now=now)
    return counts


def _usage_parser(*, current_month):
    # A usage feed repeats each ESI ID once a month and each month once a premise:
    # remembering the good ones halves the parsing time of a large file.
    esi_id_of = lru_cache(maxsize=100_000)(normalize_esi_id)
    month_of = lru_cache(maxsize=1_000)(_month)

    def parse(record):
        reasons = []
        esi_id = _field(reasons, esi_id_of, record["esi_id"])
        month = _field(reasons, month_of, record["month"], current_month)
        kwh = _field(reasons, _kwh, record["kwh"])
        if reasons:
            raise _BadRow("; ".join(reasons))
        return UsageRow(esi_id, month, kwh)

    return parse


def _month(raw, current_month):
    match = _MONTH.match(raw.strip())
    if not match or not 1 <= int(match[2]) <= 12:
        raise _BadRow(f"month must be YYYY-MM, not {raw!r}")
    month = date(int(match[1]), int(match[2]), 1)
    if month > current_month:
        raise _BadRow(f"month {raw.strip()} is in the future")
    return month


def _kwh(raw):
    if not raw.isascii():  # Decimal() would read Arabic-Indic digits as a number
        raise _BadRow(f"kWh must be a number, not {raw!r}")
    try:
        value = Decimal(raw.strip())
    except InvalidOperation:
        raise _BadRow(f"kWh must be a number, not {raw!r}") from None
    if not value.is_finite():
        raise _BadRow(f"kWh must be a number, not {raw!r}")
    if value < 0:
        raise _BadRow("kWh must not be negative")
    if value.as_tuple().exponent < -3:
        raise _BadRow("kWh has more than 3 decimal places")
    if value >= _KWH_LIMIT:
        raise _BadRow("kWh is too large")
    return value


def _usage_problems(path, parse):
    """Every bad line, including unknown ESI IDs (looked up a chunk at a time)."""
    problems, first_line = [], {}
    for chunk in _chunks(_parsed(path, USAGE_COLUMNS, parse), CHUNK_SIZE):
        premise_ids = _premise_ids({row.esi_id for _, row, _ in chunk if row})
        for line, row, problem in chunk:
            if row is not None:
                problem = _usage_row_problem(row, line, premise_ids, first_line)
            if problem:
                problems.append((line, problem))
    return problems


def _usage_row_problem(row, line, premise_ids, first_line):
    premise_id = premise_ids.get(row.esi_id)
    if premise_id is None:
        return f"unknown ESI ID {row.esi_id}"
    # An int key per (premise, month) keeps a multi-million-row feed in memory cheaply.
    key = premise_id * 1_000_000 + row.month.year * 100 + row.month.month
    if key in first_line:
        return (
            f"ESI ID {row.esi_id} month {row.month:%Y-%m} appears again "
            f"(first on line {first_line[key]})"
        )
    first_line[key] = line
    return None


def _premise_ids(esi_ids):
    return dict(Premise.objects.filter(esi_id__in=esi_ids).values_list("esi_id", "id"))


def _usage_chunk_apply(chunk, *, counts, now):
    premise_ids = _premise_ids({row.esi_id for _, row in chunk})
    missing = [
        (line, f"unknown ESI ID {row.esi_id}")
        for line, row in chunk
        if row.esi_id not in premise_ids
    ]
    if missing:
        raise FeedRejected(missing)  # deleted since validation
    existing = {
        (premise_id, month): kwh
        for premise_id, month, kwh in MonthlyUsage.objects.filter(
            premise_id__in=premise_ids.values(), month__in={row.month for _, row in chunk}
        ).values_list("premise_id", "month", "kwh")
    }
    writes = []
    for _, row in chunk:
        key = (premise_ids[row.esi_id], row.month)
        if key not in existing:
            counts.created += 1
        elif existing[key] != row.kwh:
            counts.updated += 1
        else:
            counts.unchanged += 1
            continue
        writes.append(MonthlyUsage(premise_id=key[0], month=row.month, kwh=row.kwh))
    MonthlyUsage.objects.bulk_create(
        writes, update_conflicts=True, unique_fields=["premise", "month"], update_fields=["kwh"]
    )
    # Every premise of the feed gets its peak of the current window stored
    # (premise authentication then reads no usage), written rows or not.
    premises_usage_peaks_refresh(premises=premise_ids.values(), now=now)


# --- Reading CSV ----------------------------------------------------------------


def _parsed(path, columns, parse):
    """Yield ``(line, row, None)`` or ``(line, None, reason)`` for each data line.

    ``columns`` are the required ones, or ``(required, optional)``.
    """
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            positions, width = _header(next(reader, None), columns)
            for values in reader:
                if not any(value.strip() for value in values):
                    continue  # blank lines carry nothing
                yield (reader.line_num, *_parse_values(values, positions, width, parse))
    except UnicodeDecodeError:
        raise FeedRejected([(None, "the file is not UTF-8 text")]) from None


def _parse_values(values, positions, width, parse):
    if len(values) != width:
        return None, f"expected {width} fields, found {len(values)}"
    try:
        return parse({column: values[index] for column, index in positions.items()}), None
    except (_BadRow, InvalidIdentifier) as exc:
        return None, str(exc)


def _header(header, columns):
    optional = ()
    if columns and isinstance(columns[0], tuple):
        columns, optional = columns
    if header is None:
        raise FeedRejected([(1, f"the file is empty; the header {','.join(columns)} is required")])
    names = [name.strip().lower() for name in header]
    missing = [column for column in columns if column not in names]
    if missing:
        raise FeedRejected(
            [(1, f"header lacks {', '.join(missing)}; expected {','.join(columns)}")]
        )
    present = [*columns, *(column for column in optional if column in names)]
    return {column: names.index(column) for column in present}, len(names)


def _problems(parsed, *, key, duplicate):
    problems, first_line = [], {}
    for line, row, problem in parsed:
        if row is not None:
            seen = first_line.setdefault(key(row), line)
            problem = duplicate(row, seen) if seen != line else None
        if problem:
            problems.append((line, problem))
    return problems


def _valid_rows(path, columns, parse):
    """The rows of a file already validated; a bad one means it changed since."""
    for line, row, problem in _parsed(path, columns, parse):
        if problem:
            raise FeedRejected([(line, f"{problem} (the file changed while it was imported)")])
        yield line, row


def _chunks(iterable, size):
    iterator = iter(iterable)
    while chunk := list(islice(iterator, size)):
        yield chunk
