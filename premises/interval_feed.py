"""The 15-minute feed (``import_intervals``): Smart Meter Texas interval CSV.

All or nothing, like the other feeds (``premises.feeds``): the file is read
twice, first to validate every line (each bad one named), then to write, in
one transaction. Memory stays flat whatever the file's size: rows are read one
day at a time (a day's rows must be together, as SMT writes them) and only the
keys of the days seen are remembered, to refuse a day given twice.

A day of the file is the whole day: its 92/96/100 consumption intervals and,
if any, as many surplus generation intervals. It replaces the stored day when
its revision (the latest ``REVISION_DATE`` of its lines) is not older than the
stored one: a later revision wins, and on a tie the later import.
PostgreSQL gets ``COPY`` into a staging table, the monthly partitions the
staged days need (``CREATE TABLE IF NOT EXISTS … PARTITION OF``), and one
set-based upsert that also records, per premise, the range of days it wrote
(``IntervalWrite``; days kept are not); SQLite the same through a staging
table. After the import committed, the subscribers of
``premises.services.interval_writes_subscribe`` are told its batch.
"""

import csv
import re
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache

import psycopg
from django.db import DatabaseError, connection, transaction

from premises.feeds import (
    CHUNK_SIZE,
    FeedRejected,
    _BadRow,
    _chunks,
    _field,
    _header,
    _kwh,
    _parsed,
    _premise_ids,
)
from premises.identifiers import normalize_esi_id
from premises.intervals import (
    WH_LIMIT,
    IntervalError,
    end_matches,
    interval_end_wall,
    interval_index,
    interval_start,
    intervals_in_day,
    pack_flags,
    pack_wh,
    parse_hhmm,
)
from premises.models import IntervalDay, IntervalWrite, Premise
from premises.services import interval_writes_notify
from smt_portal.calendar import CENTRAL

INTERVAL_COLUMNS = (
    "ESIID",
    "USAGE_DATE",
    "REVISION_DATE",
    "USAGE_START_TIME",
    "USAGE_END_TIME",
    "USAGE_KWH",
    "ESTIMATED_ACTUAL",
    "CONSUMPTION_SURPLUSGENERATION",
)
_COLUMNS = tuple(column.lower() for column in INTERVAL_COLUMNS)
CONSUMPTION = "Consumption"
SURPLUS = "Surplus Generation"
_KINDS = {CONSUMPTION.lower(): CONSUMPTION, SURPLUS.lower(): SURPLUS}
_US_DATE = re.compile(r"^([0-9]{2})/([0-9]{2})/([0-9]{4})$")
_REVISION = re.compile(r"^([0-9]{2})/([0-9]{2})/([0-9]{4})(?: ([0-9]{2}):([0-9]{2}):([0-9]{2}))?$")
_WH_LIMIT = Decimal(2**31 - 1)


@dataclass
class IntervalImportCounts:
    days_written: int = 0
    days_kept: int = 0  # the stored revision was later
    readings: int = 0

    def __str__(self):
        return (
            f"{self.days_written} days written, {self.days_kept} days kept (a later revision "
            f"is stored), {self.readings} readings"
        )


@dataclass(frozen=True, slots=True)
class IntervalRow:
    esi_id: str
    day: date
    revision_at: datetime
    start: str
    end: str
    wh: int
    estimated: bool
    kind: str


@dataclass(slots=True)
class DayReadings:
    """One premise's day as it is stored (``IntervalDay``), before the premise id."""

    esi_id: str
    day: date
    wh: list
    estimated: list  # indexes
    surplus_wh: list | None
    revision_at: datetime


def interval_feed_import(*, path, now, on_progress=None, on_phase=None):
    """Validate then upsert an SMT interval CSV; returns ``IntervalImportCounts``.

    The days written are recorded under one batch (``IntervalWrite``), whose
    subscribers are told once the import committed. PostgreSQL first tries the
    streamed or the set-based import (``_pg_import``); a file it cannot vouch for line by line
    (any bad or unusual line) is read again by the Python validator, which
    names each bad line. ``on_progress(lines)`` counts the lines read (by COPY,
    then by Python if it reads them again); ``on_phase(text)`` names each step.
    """
    on_phase = on_phase or (lambda text: None)
    today = now.astimezone(CENTRAL).date()
    if connection.vendor == "postgresql":
        try:
            with transaction.atomic():
                counts, batch = _pg_import(
                    path, today=today, now=now, on_progress=on_progress, on_phase=on_phase
                )
        except _LineByLine:
            on_phase("checking line by line")
        else:
            interval_writes_notify(batch=batch, now=now)
            return counts
    parse = _interval_parser(today=today)
    problems = _interval_problems(path, parse, on_progress)
    if problems:
        raise FeedRejected(problems)
    counts = IntervalImportCounts()
    batch = uuid.uuid4()
    on_phase("writing")
    with transaction.atomic():
        days = (day for _, day, _ in _days(_parsed(path, _COLUMNS, parse), on_progress))
        interval_days_upsert(days, now=now, batch=batch, counts=counts)
    interval_writes_notify(batch=batch, now=now)
    return counts


def _interval_parser(*, today):
    # A file repeats each ESI ID, date, revision and time many times: remembering
    # the good ones (errors are not cached) keeps parsing cheap.
    esi_id_of = lru_cache(maxsize=100_000)(normalize_esi_id)
    usage_date = lru_cache(maxsize=10_000)(_usage_date)
    revision = lru_cache(maxsize=10_000)(_revision)
    hhmm = lru_cache(maxsize=1_000)(_hhmm)

    def parse(record):
        reasons = []
        esi_id = _field(reasons, esi_id_of, record["esiid"])
        day = _field(reasons, usage_date, record["usage_date"], today)
        revision_at = _field(reasons, revision, record["revision_date"])
        start = _field(reasons, hhmm, record["usage_start_time"])
        end = _field(reasons, hhmm, record["usage_end_time"])
        wh = _field(reasons, _wh, record["usage_kwh"])
        estimated = _field(reasons, _estimated, record["estimated_actual"])
        kind = _field(reasons, _kind, record["consumption_surplusgeneration"])
        if reasons:
            raise _BadRow("; ".join(reasons))
        return IntervalRow(esi_id, day, revision_at, start, end, wh, estimated, kind)

    return parse


def _usage_date(raw, today):
    day = _us_date(raw.strip(), _US_DATE, "USAGE_DATE")
    if day > today:
        raise _BadRow(f"USAGE_DATE {raw.strip()} is in the future")
    return day


def _us_date(value, pattern, name):
    match = pattern.match(value)
    try:
        return date(int(match[3]), int(match[1]), int(match[2])) if match else None
    except ValueError:
        pass
    raise _BadRow(f"{name} must be MM/DD/YYYY, not {value!r}")


def _revision(raw):
    value = raw.strip()
    match = _REVISION.match(value)
    try:
        if match:
            clock = [int(part) for part in match.groups()[3:] if part is not None] or [0, 0, 0]
            return datetime(int(match[3]), int(match[1]), int(match[2]), *clock, tzinfo=CENTRAL)
    except ValueError:
        pass
    raise _BadRow(f"REVISION_DATE must be MM/DD/YYYY with an optional HH:MM:SS, not {raw!r}")


def _hhmm(raw):
    try:
        parse_hhmm(raw)
    except IntervalError as exc:
        raise _BadRow(str(exc)) from None
    return raw.strip()


def _wh(raw):
    kwh = _kwh(raw)
    if kwh * 1000 > _WH_LIMIT:
        raise _BadRow("USAGE_KWH is too large")
    return int(kwh * 1000)


def _estimated(raw):
    value = raw.strip().upper()
    if value not in ("A", "E"):
        raise _BadRow(f"ESTIMATED_ACTUAL must be A or E, not {raw!r}")
    return value == "E"


def _kind(raw):
    kind = _KINDS.get(" ".join(raw.split()).lower())
    if kind is None:
        raise _BadRow(
            f"CONSUMPTION_SURPLUSGENERATION must be {CONSUMPTION} or {SURPLUS}, not {raw!r}"
        )
    return kind


# --- Days ------------------------------------------------------------------------


def _days(parsed, on_progress=None):
    """Group consecutive lines of one ESI ID and day into ``DayReadings``.

    Yields ``(first_line, day or None, [(line, reason), ...])``; a day with
    any bad line is yielded as None with its problems. A bad line that cannot
    be parsed is yielded on its own.
    """
    group, key, rows = None, None, 0
    for line, row, problem in parsed:
        rows += 1
        if on_progress and rows % CHUNK_SIZE == 0:
            on_progress(CHUNK_SIZE)
        if problem:
            yield line, None, [(line, problem)]
            continue
        if (row.esi_id, row.day) != key:
            if group:
                yield group.close()
            key, group = (row.esi_id, row.day), _DayBuilder(line, row)
        group.add(line, row)
    if group:
        yield group.close()
    if on_progress:
        on_progress(rows % CHUNK_SIZE)


@lru_cache(maxsize=100_000)
def _interval_index(day, start, repeat):
    return interval_index(day, start, repeat=repeat)


_end_matches = lru_cache(maxsize=100_000)(end_matches)


class _DayBuilder:
    def __init__(self, line, row):
        self.first_line, self.esi_id, self.day = line, row.esi_id, row.day
        self.count = intervals_in_day(row.day)
        self.values = {CONSUMPTION: [None] * self.count, SURPLUS: None}
        self.starts = {CONSUMPTION: set(), SURPLUS: set()}
        self.estimated, self.revision_at, self.problems = [], row.revision_at, []

    def add(self, line, row):
        values = self.values[row.kind]
        if values is None:
            values = self.values[row.kind] = [None] * self.count
        repeat = row.start in self.starts[row.kind]
        self.starts[row.kind].add(row.start)
        try:
            index = _interval_index(self.day, row.start, repeat)
        except IntervalError as exc:
            self.problems.append((line, f"{exc} ({row.kind})"))
            return
        if values[index] is not None:
            self.problems.append((line, f"interval {row.start} appears again ({row.kind})"))
            return
        if not _end_matches(self.day, index, row.start, row.end):
            self.problems.append(
                (line, f"USAGE_END_TIME {row.end} does not end the interval starting {row.start}")
            )
            return
        values[index] = row.wh
        if row.estimated and row.kind == CONSUMPTION:
            self.estimated.append(index)
        self.revision_at = max(self.revision_at, row.revision_at)

    def close(self):
        for kind, values in self.values.items():
            missing = [i for i, value in enumerate(values or ()) if value is None]
            if missing and not self.problems:
                starts = ", ".join(f"{interval_start(self.day, i):%H:%M}" for i in missing[:4])
                more = ", …" if len(missing) > 4 else ""
                self.problems.append(
                    (
                        self.first_line,
                        f"ESI ID {self.esi_id} {self.day:%m/%d/%Y} lacks {len(missing)} of "
                        f"{self.count} {kind} intervals ({starts}{more})",
                    )
                )
        if self.problems:
            return self.first_line, None, self.problems
        day = DayReadings(
            self.esi_id,
            self.day,
            self.values[CONSUMPTION],
            sorted(self.estimated),
            self.values[SURPLUS],
            self.revision_at,
        )
        return self.first_line, day, []


def _interval_problems(path, parse, on_progress):
    """Every bad line: bad fields, incomplete or repeated days, unknown ESI IDs."""
    problems, first_line = [], {}
    grouped = _days(_parsed(path, _COLUMNS, parse), on_progress)
    for chunk in _chunks(grouped, CHUNK_SIZE // 10):
        premise_ids = _premise_ids({day.esi_id for _, day, _ in chunk if day})
        for line, day, day_problems in chunk:
            problems += day_problems
            if day is None:
                continue
            if day.esi_id not in premise_ids:
                problems.append((line, f"unknown ESI ID {day.esi_id}"))
                continue
            key = premise_ids[day.esi_id] * 100_000 + day.day.toordinal() % 100_000
            seen = first_line.setdefault(key, line)
            if seen != line:
                problems.append(
                    (
                        line,
                        f"ESI ID {day.esi_id} {day.day:%m/%d/%Y} appears again (first on line "
                        f"{seen}); a day's lines must be together",
                    )
                )
    return problems


# --- Writing ------------------------------------------------------------------------

_TABLE = IntervalDay._meta.db_table
_WRITES = IntervalWrite._meta.db_table
_FIELDS = ("premise_id", "day", "wh", "estimated", "surplus_wh", "revision_at", "imported_at")
_STAGING = "interval_day_staging"
_UPSERT_TAIL = (
    "ON CONFLICT (premise_id, day) DO UPDATE SET wh = excluded.wh, "
    "estimated = excluded.estimated, surplus_wh = excluded.surplus_wh, "
    "revision_at = excluded.revision_at, imported_at = excluded.imported_at "
    f"WHERE excluded.revision_at >= {_TABLE}.revision_at"
)
_COLUMNS_SQL = ", ".join(_FIELDS)
# PostgreSQL: the days written (not the ones kept) come back from the upsert and
# are recorded, per premise, by the same statement.
_PG_UPSERT = (
    f"WITH written AS (INSERT INTO {_TABLE} ({_COLUMNS_SQL}) "  # noqa: S608
    f"SELECT {_COLUMNS_SQL} FROM {_STAGING} {_UPSERT_TAIL} RETURNING premise_id, day), "
    f"recorded AS (INSERT INTO {_WRITES} (batch, premise_id, first_day, last_day, written_at) "
    "SELECT %s, premise_id, min(day), max(day), %s FROM written GROUP BY premise_id) "
    "SELECT count(*) FROM written"
)
# SQLite (one writer, so reading first is exact): the same days, found by the
# upsert's own condition before it runs.
_SQLITE_RECORD = (
    f"INSERT INTO {_WRITES} (batch, premise_id, first_day, last_day, written_at) "  # noqa: S608
    "SELECT %s, s.premise_id, min(s.day), max(s.day), %s "
    f"FROM {_STAGING} s LEFT JOIN {_TABLE} d ON d.premise_id = s.premise_id AND d.day = s.day "
    "WHERE d.premise_id IS NULL OR s.revision_at >= d.revision_at GROUP BY s.premise_id"
)
_SQLITE_UPSERT = (
    f"INSERT INTO {_TABLE} ({_COLUMNS_SQL}) SELECT {_COLUMNS_SQL} FROM {_STAGING} "  # noqa: S608
    f"WHERE true {_UPSERT_TAIL}"
)
_PARTITIONS_LOCK = 7_230_001  # pg_advisory_xact_lock key: one creator of partitions at a time


def interval_days_upsert(days, *, now, batch, counts=None):
    """Store ``DayReadings`` (an iterable, read in chunks); a stored later revision stays.

    Records in ``IntervalWrite`` (``batch``, one row per premise) the range of
    the days actually written. Call inside a transaction. Returns
    ``IntervalImportCounts``.
    """
    counts = counts or IntervalImportCounts()
    staged = 0
    postgres = connection.vendor == "postgresql"
    batch_value = IntervalWrite._meta.get_field("batch").get_db_prep_value(batch, connection)
    with connection.cursor() as cursor:
        if postgres:
            _pg_staging_create(cursor)
        else:
            cursor.execute(
                f"CREATE TEMP TABLE {_STAGING} (premise_id integer, day date, wh blob, "
                "estimated blob, surplus_wh blob, revision_at datetime, imported_at datetime)"
            )
        for chunk in _chunks(days, CHUNK_SIZE):
            premise_ids = _premise_ids({day.esi_id for day in chunk})
            missing = [day.esi_id for day in chunk if day.esi_id not in premise_ids]
            if missing:
                raise FeedRejected([(None, f"unknown ESI ID {esi_id}") for esi_id in missing])
            rows = [_row(day, premise_ids[day.esi_id], now) for day in chunk]
            staged += len(rows)
            counts.readings += sum(len(day.wh) + len(day.surplus_wh or ()) for day in chunk)
            if postgres:
                _copy_staging(cursor, rows)
            else:
                _sqlite_stage(cursor, rows)
        if postgres:
            written = _pg_staged_upsert(cursor, batch=batch, now=now)
        else:
            cursor.execute(
                _SQLITE_RECORD, [batch_value, connection.ops.adapt_datetimefield_value(now)]
            )
            before = connection.connection.total_changes
            cursor.execute(_SQLITE_UPSERT)
            written = connection.connection.total_changes - before
        cursor.execute(f"DROP TABLE {_STAGING}")
    counts.days_written += written
    counts.days_kept += staged - written
    return counts


def _pg_staging_create(cursor):
    cursor.execute(
        f"CREATE TEMP TABLE {_STAGING} (premise_id bigint, day date, "
        "wh bytea, estimated bytea, surplus_wh bytea, revision_at timestamptz, "
        "imported_at timestamptz) ON COMMIT DROP"
    )


def _pg_staged_upsert(cursor, *, batch, now):
    """Upsert the staged days (PostgreSQL), recording the written ones; returns their count."""
    batch_value = IntervalWrite._meta.get_field("batch").get_db_prep_value(batch, connection)
    cursor.execute(f"SELECT DISTINCT date_trunc('month', day)::date FROM {_STAGING}")  # noqa: S608
    _partitions_ensure(cursor, [month for (month,) in cursor.fetchall()])
    cursor.execute(_PG_UPSERT, [batch_value, now])
    return cursor.fetchone()[0]


def _row(day, premise_id, now):
    return (
        premise_id,
        day.day,
        pack_wh(day.wh),
        pack_flags(day.estimated, len(day.wh)),
        pack_wh(day.surplus_wh) if day.surplus_wh is not None else None,
        day.revision_at,
        now,
    )


def interval_partitions_ensure(*, first_day, last_day):
    """Create the monthly partitions from ``first_day`` to ``last_day`` (PostgreSQL;
    nothing elsewhere), e.g. before parallel writers start."""
    if connection.vendor != "postgresql":
        return
    months, month = [], first_day.replace(day=1)
    while month <= last_day:
        months.append(month)
        month = (month + timedelta(days=32)).replace(day=1)
    with transaction.atomic(), connection.cursor() as cursor:
        _partitions_ensure(cursor, months)


def _partitions_ensure(cursor, months):
    """Create the monthly partitions of ``months`` that do not exist (PostgreSQL).

    Creating one locks the whole table until commit, so it is done only when
    missing, and by one writer at a time (the others wait, then find it).
    """
    names = {month: f"{_TABLE}_y{month:%Y}m{month:%m}" for month in months}
    cursor.execute(
        "SELECT name FROM unnest(%s::text[]) AS name WHERE to_regclass(name) IS NULL",
        [list(names.values())],
    )
    missing = {name for (name,) in cursor.fetchall()}
    if not missing:
        return
    cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_PARTITIONS_LOCK])
    for month, name in sorted(names.items()):
        if name in missing:
            following = (month + timedelta(days=32)).replace(day=1)
            cursor.execute(
                f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF {_TABLE} "
                f"FOR VALUES FROM ('{month:%Y-%m-%d}') TO ('{following:%Y-%m-%d}')"
            )


def _copy_staging(cursor, rows):
    with cursor.copy(f"COPY {_STAGING} ({_COLUMNS_SQL}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def _sqlite_stage(cursor, rows):
    ops = connection.ops
    placeholders = ", ".join(["%s"] * len(_FIELDS))
    cursor.executemany(
        f"INSERT INTO {_STAGING} ({_COLUMNS_SQL}) VALUES ({placeholders})",  # noqa: S608
        [
            (
                *row[:1],
                ops.adapt_datefield_value(row[1]),
                *row[2:5],
                ops.adapt_datetimefield_value(row[5]),
                ops.adapt_datetimefield_value(row[6]),
            )
            for row in rows
        ],
    )


# --- PostgreSQL: the set-based import ------------------------------------------------
#
# The file goes by COPY, as it is, into a staging table of text columns numbered
# in file order (an identity column: COPY reads and numbers the lines one after
# the other); one pass of SQL over the lines then groups them by ESI ID, date and
# kind as written, in file order (a hash aggregate over a scan of the table, no
# parallel workers), concatenating each group's start times, end times, A/E
# flags, kWh texts and the readings already encoded as ``pack_wh`` writes them.
# Each group is then checked as a whole against what Python computes once per
# date of the file: its start times must be exactly that date's intervals in
# order (so each is there once, and on the fall-back day the first 01:00 of the
# file is daylight time, as the Python path reads it), its end times the
# wall-clock ends or the starts plus 15 minutes, its kWh texts the usual
# ``123.456`` form. Only what the Python validator would accept with the same
# values passes; anything else (a bad line, but also an unusual one: quotes,
# spaces, another kWh notation, a day's intervals out of order, …) rolls the
# attempt back and the file is read again line by line by the Python path, which
# names each bad line (or writes the file, when it is only unusual).


class _LineByLine(Exception):
    """The file needs the line-by-line path (``_pg_import`` rolled back)."""


_LINES = "interval_feed_line"
_DATES = "interval_feed_date"
_REVISIONS = "interval_feed_revision"
_GROUPS = "interval_feed_group"
_WIDE = "interval_feed_wide"
_COPY_BLOCK = 1 << 20
_SETTINGS = (
    "enable_nestloop",
    "work_mem",
    "max_parallel_workers_per_gather",
    "synchronize_seqscans",
)
_INT16_MAX = 2**15 - 1
_HALF = 48  # bits of a bigint mask per half of a day's intervals (0-47, 48-99)
_KWH_TEXTS = "^[0-9]{1,7}\\.[0-9]{3}(,[0-9]{1,7}\\.[0-9]{3})*$"
_ESI_ID = "^10[0-9]{15}([0-9]{5})?$"


def _le16(value):
    """SQL: an int ``value`` (0 … 32767) as int16 little-endian bytes (``pack_wh``)."""
    return f"int2send((((({value} & 255) # 128) - 128) * 256 + (({value} >> 8) & 255))::int2)"


def _le32(value):
    """SQL: an int ``value`` (≥ 0) as int32 little-endian bytes (``pack_wh``)."""
    return (
        f"int4send(((((({value} & 255) # 128) - 128) << 24) | ((({value} >> 8) & 255) << 16) "
        f"| ((({value} >> 16) & 255) << 8) | (({value} >> 24) & 255)))"
    )


def _le_mask(mask, length):
    """SQL: the first ``length`` little-endian bytes of a bigint ``mask``."""
    swapped = " | ".join(
        f"((({mask} >> {8 * byte}) & 255) << {56 - 8 * byte})" for byte in range(8)
    )
    return f"substring(int8send({swapped}) from 1 for {length})"


def _flags_sql(low, high):
    """SQL: ``pack_flags`` of the bits of two bigint masks (indexes 0-47, 48-99)."""
    low, high = f"coalesce({low}, 0)", f"coalesce({high}, 0)"
    return (
        f"CASE WHEN {low} = 0 AND {high} = 0 THEN ''::bytea ELSE rtrim("
        f"{_le_mask(low, _HALF // 8)} || {_le_mask(high, 7)}, '\\x00'::bytea) END"
    )


def _pg_import(path, *, today, now, on_progress, on_phase=None):
    """Store a file without parsing it line by line in Python; ``(counts, batch)`` or
    ``_LineByLine``: a file with SMT's own header goes through ``_pg_import_streamed``,
    any other (columns reordered, renamed in case, extra ones) through ``_pg_import_sql``."""
    with open(path, "rb") as handle:
        head = handle.read(len(_STREAMED_HEADER) + 8)
    if _STREAMED_HEADER_LINE.match(head.removeprefix(b"\xef\xbb\xbf")):
        return _pg_import_streamed(
            path, today=today, now=now, on_progress=on_progress, on_phase=on_phase
        )
    return _pg_import_sql(path, today=today, now=now, on_progress=on_progress, on_phase=on_phase)


def _pg_import_sql(path, *, today, now, on_progress, on_phase=None):
    """COPY, check and store a file in SQL; ``(counts, batch)`` or ``_LineByLine``."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            header = next(csv.reader(handle), None)
        positions, width = _header(header, _COLUMNS)
    except (UnicodeDecodeError, csv.Error, FeedRejected):
        raise _LineByLine from None
    column = {name: f"c{index}" for name, index in positions.items()}
    on_phase = on_phase or (lambda text: None)
    with connection.cursor() as cursor:
        on_phase("COPY")
        lines = _pg_copy(cursor, path, width, on_progress)
        on_phase("checking and building the days (SQL)")
        try:
            groups = _pg_groups(cursor, column)
        except (DatabaseError, psycopg.Error):  # a kWh text no number: a bad line
            raise _LineByLine from None
        _pg_dates_create(cursor, today)
        _pg_revisions_create(cursor)
        _pg_wide(cursor, column)
        for table in (_GROUPS, _DATES, _REVISIONS, _WIDE):
            cursor.execute(f"ANALYZE {table}")  # temporary tables have no statistics else
        _pg_staging_create(cursor)
        # The estimates of the checks' selectivity are poor: hash joins, not loops.
        cursor.execute("SET LOCAL enable_nestloop = off")
        cursor.execute(_pg_stage_days_sql(), [now])
        days, with_surplus = cursor.fetchone()
        for setting in _SETTINGS:
            cursor.execute(f"RESET {setting}")
        cursor.execute(f"SELECT count(*) FILTER (WHERE g = %s) FROM {_GROUPS}", [CONSUMPTION])  # noqa: S608
        if days != cursor.fetchone()[0] or days + with_surplus != groups:
            raise _LineByLine  # a day, or a kind, the SQL cannot vouch for
        counts = IntervalImportCounts(readings=lines)
        batch = uuid.uuid4()
        on_phase("writing")
        counts.days_written = _pg_staged_upsert(cursor, batch=batch, now=now)
        counts.days_kept = days - counts.days_written
        for table in (_STAGING, _WIDE, _REVISIONS, _DATES, _GROUPS, _LINES):
            cursor.execute(f"DROP TABLE {table}")
    return counts, batch


def _pg_copy(cursor, path, width, on_progress):
    """COPY the file's lines into ``_LINES`` (``line``: 1 for the first after the
    header); their number, or ``_LineByLine`` when COPY and Python's csv could
    read it differently."""
    names = ", ".join(f"c{index}" for index in range(width))
    cursor.execute(
        f"CREATE TEMP TABLE {_LINES} (line bigint GENERATED ALWAYS AS IDENTITY, "
        + ", ".join(f"c{index} text" for index in range(width))
        + ") ON COMMIT DROP"
    )
    newlines, last = 0, b"\n"
    try:
        with (
            open(path, "rb") as handle,
            cursor.copy(
                f"COPY {_LINES} ({names}) FROM STDIN "
                f"(FORMAT csv, HEADER true, FORCE_NOT_NULL ({names}))"
            ) as copy,
        ):
            while block := handle.read(_COPY_BLOCK):
                if b'"' in block:
                    # COPY and Python's csv read quotes inside a field differently.
                    raise _LineByLine
                copy.write(block)
                count = block.count(b"\n")
                newlines, last = newlines + count, block[-1:]
                if on_progress:
                    on_progress(count)
    except (DatabaseError, psycopg.Error):  # a line COPY refuses: blank, short, long, not UTF-8
        raise _LineByLine from None
    copied = cursor.rowcount
    # One row per physical line (no line break inside a field, no end-of-data marker).
    if copied != newlines - (last == b"\n"):
        raise _LineByLine
    return copied


def _pg_groups(cursor, column):
    """One row per ESI ID, date and kind as written in the file, in one pass over
    the lines in file order; returns their number."""
    cursor.execute("SET LOCAL synchronize_seqscans = off")  # the scan starts at line 1
    cursor.execute("SET LOCAL max_parallel_workers_per_gather = 0")  # one scan, in order
    cursor.execute("SET LOCAL work_mem = '1GB'")  # the groups' states stay in memory
    kwh = column["usage_kwh"]
    cursor.execute(
        f"CREATE TEMP TABLE {_GROUPS} ON COMMIT DROP AS SELECT e, d, g, "  # noqa: S608
        "count(*) AS n, min(line) AS first_line, max(line) AS last_line, "
        'min(r COLLATE "C") AS r_min, max(r COLLATE "C") AS r_max, '
        "string_agg(s, ',') AS starts, string_agg(t, ',') AS ends, "
        "string_agg(a, '') AS flags, string_agg(k, ',') AS kwhs, max(w) AS w_max, "
        f"string_agg({_le16('w')}, ''::bytea) AS wh "
        f"FROM (SELECT line, {column['esiid']} AS e, {column['usage_date']} AS d, "
        f"{column['consumption_surplusgeneration']} AS g, {column['revision_date']} AS r, "
        f"{column['usage_start_time']} AS s, {column['usage_end_time']} AS t, "
        f"{column['estimated_actual']} AS a, {kwh} AS k, "
        # The reading when the group's kWh texts are all 123.456 (checked below).
        f"replace({kwh}, '.', '')::int AS w "
        f"FROM {_LINES}) lines GROUP BY e, d, g"
    )
    return cursor.rowcount


def _pg_dates_create(cursor, today):
    """The file's dates that the Python validator takes as they are written, with
    their intervals' start and end times in order."""
    cursor.execute(f"SELECT DISTINCT d FROM {_GROUPS}")  # noqa: S608
    rows = []
    for (raw,) in cursor.fetchall():
        try:
            day = _usage_date(raw, today)
        except _BadRow:
            continue
        if raw == raw.strip():
            starts = [f"{interval_start(day, i):%H:%M}" for i in range(intervals_in_day(day))]
            walls = [interval_end_wall(day, i) for i in range(len(starts))]
            minutes = [(int(start[:2]) * 60 + int(start[3:]) + 15) % 1440 for start in starts]
            plus = [f"{minute // 60:02d}:{minute % 60:02d}" for minute in minutes]
            rows.append((raw, day, ",".join(starts), ",".join(walls), ",".join(plus)))
    cursor.execute(
        f"CREATE TEMP TABLE {_DATES} (raw text PRIMARY KEY, day date, starts text, "
        "ends_wall text, ends_plus text) ON COMMIT DROP"
    )
    cursor.executemany(f"INSERT INTO {_DATES} VALUES (%s, %s, %s, %s, %s)", rows)  # noqa: S608


def _pg_revisions_create(cursor):
    """The revisions of the groups whose lines all give the same one, parsed."""
    cursor.execute(f"SELECT DISTINCT r_min FROM {_GROUPS} WHERE r_min = r_max")  # noqa: S608
    rows = []
    for (raw,) in cursor.fetchall():
        try:
            rows.append((raw, _revision(raw)))
        except _BadRow:
            continue
    cursor.execute(
        f"CREATE TEMP TABLE {_REVISIONS} (raw text PRIMARY KEY, at timestamptz) ON COMMIT DROP"
    )
    cursor.executemany(f"INSERT INTO {_REVISIONS} VALUES (%s, %s)", rows)  # noqa: S608


def _pg_wide(cursor, column):
    """The groups with a reading above the int16 range, encoded again as int32."""
    cursor.execute(
        f"CREATE TEMP TABLE {_WIDE} ON COMMIT DROP AS SELECT e, d, g "  # noqa: S608
        f"FROM {_GROUPS} WHERE w_max > {_INT16_MAX}"
    )
    if not cursor.rowcount:
        cursor.execute(f"ALTER TABLE {_WIDE} ADD COLUMN wh bytea")
        return
    names = {
        name: column[name] for name in ("esiid", "usage_date", "consumption_surplusgeneration")
    }
    cursor.execute(
        f"CREATE TEMP TABLE {_WIDE}_wh ON COMMIT DROP AS SELECT "  # noqa: S608
        f"{names['esiid']} AS e, {names['usage_date']} AS d, "
        f"{names['consumption_surplusgeneration']} AS g, "
        f"string_agg({_le32('w')}, ''::bytea) AS wh FROM (SELECT *, "
        f"replace({column['usage_kwh']}, '.', '')::int AS w FROM {_LINES} "
        f"WHERE ({names['esiid']}, {names['usage_date']}, "
        f"{names['consumption_surplusgeneration']}) IN (SELECT e, d, g FROM {_WIDE})) lines "
        "GROUP BY 1, 2, 3"
    )
    cursor.execute(f"DROP TABLE {_WIDE}")
    cursor.execute(f"ALTER TABLE {_WIDE}_wh RENAME TO {_WIDE}")


def _pg_group_ok(group):
    """SQL: a group whose lines are all good, against its date ``m``."""
    return (
        f"{group}.r_min = {group}.r_max AND {group}.starts = m.starts "
        f"AND {group}.ends IN (m.ends_plus, m.ends_wall) "
        f"AND translate({group}.flags, 'AE', '') = '' AND {group}.kwhs ~ '{_KWH_TEXTS}'"
    )


def _pg_stage_days_sql():
    """SQL: the good days into ``_STAGING`` (a day the SQL cannot vouch for is left
    out); returns the days staged and how many have surplus generation."""

    def values(group, wide):
        return (
            f"CASE WHEN {group}.w_max > {_INT16_MAX} THEN '\\x04'::bytea || {wide}.wh "
            f"ELSE '\\x02'::bytea || {group}.wh END"
        )

    estimated = (
        "SELECT bit_or(CASE WHEN i < 48 THEN 1::bigint << i ELSE 0 END) AS low, "
        "bit_or(CASE WHEN i >= 48 THEN 1::bigint << (i - 48) ELSE 0 END) AS high "
        "FROM generate_series(0, length(c.flags) - 1) i "
        "WHERE strpos(c.flags, 'E') > 0 AND substr(c.flags, i + 1, 1) = 'E'"
    )
    ok = (
        f"c.e ~ '{_ESI_ID}' AND {_pg_group_ok('c')} "
        f"AND (s.e IS NULL OR s.r_min = c.r_min AND {_pg_group_ok('s')}) "
        "AND greatest(c.last_line, s.last_line) - least(c.first_line, s.first_line) + 1 "
        "= c.n + coalesce(s.n, 0)"
    )
    # Checks in the select list, not in the joins: the planner then sees every group.
    return (
        f"WITH days AS MATERIALIZED (SELECT p.id AS premise_id, m.day, "  # noqa: S608
        f"{values('c', 'cw')} AS wh, {_flags_sql('f.low', 'f.high')} AS estimated, "
        f"CASE WHEN s.e IS NOT NULL THEN {values('s', 'sw')} END AS surplus_wh, "
        f"v.at AS revision_at, {ok} AS ok "
        f"FROM {_GROUPS} c JOIN {_DATES} m ON m.raw = c.d "
        f"JOIN {Premise._meta.db_table} p ON p.esi_id = c.e "
        f"JOIN {_REVISIONS} v ON v.raw = c.r_min "
        f"LEFT JOIN {_GROUPS} s ON s.e = c.e AND s.d = c.d AND s.g = '{SURPLUS}' "
        f"LEFT JOIN {_WIDE} cw ON cw.e = c.e AND cw.d = c.d AND cw.g = c.g "
        f"LEFT JOIN {_WIDE} sw ON sw.e = s.e AND sw.d = s.d AND sw.g = s.g "
        f"LEFT JOIN LATERAL ({estimated}) f ON true WHERE c.g = '{CONSUMPTION}'), "
        f"staged AS (INSERT INTO {_STAGING} ({_COLUMNS_SQL}) SELECT premise_id, day, wh, "
        "estimated, surplus_wh, revision_at, %s FROM days WHERE ok "
        "RETURNING surplus_wh IS NOT NULL AS surplus) "
        "SELECT count(*), count(*) FILTER (WHERE surplus) FROM staged"
    )


# --- PostgreSQL: the streamed import ---------------------------------------------------
#
# A file with SMT's header, written as SMT writes it (``day_csv_rows``: a day's
# lines together, consumption then surplus generation, in elapsed-time order,
# ``123.456`` kWh, ``A``/``E``, one revision per day), is read in large blocks
# and matched a whole day at a time by one regular expression per kind of day
# (92, 96 or 100 intervals: the start and end times of each line are written
# into it, the ESI ID, date and revision of the first line must repeat on the
# others), so Python does no work per line: the readings are taken out of the
# day's text at once and encoded by ``pack_wh`` / ``pack_flags`` themselves (the
# bytes are the Python path's by construction). The days, ~200 bytes each, are
# COPYed into the staging table and upserted as by the other paths. Anything the
# expressions do not match (a bad line, or only an unusual one: quotes, spaces,
# another kWh notation, lines out of order, a blank line), an unknown ESI ID or
# a day given twice rolls the attempt back and the file is read line by line.

_STREAMED_HEADER = ",".join(INTERVAL_COLUMNS).encode()
_STREAMED_HEADER_LINE = re.compile(re.escape(_STREAMED_HEADER) + rb"\r?\n")
_STREAMED_BLOCK = 1 << 22  # bytes read at a time
_STREAMED_DAY_MAX = 1 << 16  # more than any good day's lines (200 lines of ~100 bytes)
_STREAMED_CHUNK = 4_000  # days per premise look-up and COPY
_STREAMED_ESTIMATED = re.compile(b"E")


@lru_cache(maxsize=8)
def _streamed_pattern(intervals):
    """The expression of a whole day with these intervals ``((start, end, end), …)``:
    groups ``c`` (the consumption lines), ``e`` (ESI ID), ``d`` (date), ``r``
    (revision), then each consumption line's kWh and flag, ``s`` (the surplus
    generation lines, if any), then each of their kWh and flag."""

    def block(kind, first):
        lines = []
        for index, (start, wall, plus) in enumerate(intervals):
            if first and index == 0:
                lead = (
                    rb"(?P<e>10[0-9]{15}(?:[0-9]{5})?),(?P<d>[0-9]{2}/[0-9]{2}/[0-9]{4}),"
                    rb"(?P<r>[0-9]{2}/[0-9]{2}/[0-9]{4}(?: [0-9]{2}:[0-9]{2}:[0-9]{2})?),"
                )
            else:
                lead = rb"(?P=e),(?P=d),(?P=r),"
            ends = re.escape(wall.encode()) + (
                b"|" + re.escape(plus.encode()) if plus != wall else b""
            )
            lines.append(
                lead
                + re.escape(start.encode())
                + b",(?:"
                + ends
                + rb"),([0-9]{1,7}\.[0-9]{3}),([AE]),"
                + re.escape(kind.encode())
                + rb"\r?\n"
            )
        return b"".join(lines)

    return re.compile(
        b"(?P<c>" + block(CONSUMPTION, True) + b")(?P<s>" + block(SURPLUS, False) + b")?"
    )


@lru_cache(maxsize=1_000)
def _streamed_day(raw, today):
    """The date and its day's expression, or None when the date needs the Python path."""
    try:
        day = _usage_date(raw.decode(), today)
    except _BadRow:
        return None
    intervals = []
    for index in range(intervals_in_day(day)):
        start = f"{interval_start(day, index):%H:%M}"
        minute = (int(start[:2]) * 60 + int(start[3:]) + 15) % 1440
        intervals.append(
            (start, interval_end_wall(day, index), f"{minute // 60:02d}:{minute % 60:02d}")
        )
    return day, len(intervals), _streamed_pattern(tuple(intervals))


_streamed_revision = lru_cache(maxsize=10_000)(_revision)


def _streamed_values(texts):
    """The watt-hours of kWh texts ``123.456`` (already matched)."""
    values = list(map(int, b",".join(texts).replace(b".", b"").split(b",")))
    if max(values) > WH_LIMIT:
        raise _LineByLine  # too large: the Python path names the line
    return values


def _streamed_days(path, *, today, on_progress):
    """``(esi_id, day, wh, estimated, surplus_wh, revision_at)`` of each day of the
    file, in file order; ``_LineByLine`` at the first thing not matched."""
    with open(path, "rb") as handle:
        buffer, eof = handle.read(_STREAMED_BLOCK).removeprefix(b"\xef\xbb\xbf"), False
        header = _STREAMED_HEADER_LINE.match(buffer)
        if header is None:
            raise _LineByLine
        position, lines = header.end(), 0
        while True:
            while not eof and len(buffer) - position < _STREAMED_DAY_MAX:
                block = handle.read(_STREAMED_BLOCK)
                if block:
                    buffer, position = buffer[position:] + block, 0
                else:
                    eof = True
                    if not buffer.endswith(b"\n"):
                        buffer += b"\n"  # the last line may lack its line break
            if position >= len(buffer):
                break
            first = buffer.find(b",", position, position + 24)
            second = buffer.find(b",", first + 1, first + 12)
            known = _streamed_day(buffer[first + 1 : second], today) if first > 0 < second else None
            match = known and known[2].match(buffer, position)
            if not match:
                raise _LineByLine
            position = match.end()
            day, count, _ = known
            groups = match.groups()  # c, e, d, r, (kWh, flag) × count, s, (kWh, flag) × count
            surplus_at = 4 + 2 * count
            flags = b"".join(groups[5:surplus_at:2])
            yield (
                groups[1].decode(),
                day,
                _streamed_values(groups[4:surplus_at:2]),
                [found.start() for found in _STREAMED_ESTIMATED.finditer(flags)]
                if b"E" in flags
                else [],
                _streamed_values(groups[surplus_at + 1 :: 2]) if groups[surplus_at] else None,
                _streamed_revision(groups[3].decode()),
            )
            surplus = groups[surplus_at]
            lines += count * (2 if surplus else 1)
            if on_progress and lines >= CHUNK_SIZE:
                on_progress(lines)
                lines = 0
        if on_progress and lines:
            on_progress(lines)


def _pg_import_streamed(path, *, today, now, on_progress, on_phase=None):
    """Match, encode and COPY the days of a file as SMT writes it; ``(counts, batch)``
    or ``_LineByLine``."""
    on_phase = on_phase or (lambda text: None)
    on_phase("reading and encoding the days")
    counts, seen, known = IntervalImportCounts(), set(), {}
    try:
        with connection.cursor() as cursor:
            _pg_staging_create(cursor)
            days = _streamed_days(path, today=today, on_progress=on_progress)
            for chunk in _chunks(days, _STREAMED_CHUNK):
                wanted = {esi_id for esi_id, *_ in chunk} - known.keys()
                if len(known) > 100_000:
                    known.clear()
                known.update(_premise_ids(wanted) if wanted else {})
                rows = []
                for esi_id, day, wh, estimated, surplus_wh, revision_at in chunk:
                    premise_id = known.get(esi_id)
                    key = (premise_id or 0) * 100_000 + day.toordinal() % 100_000
                    if premise_id is None or key in seen:
                        raise _LineByLine  # unknown, or a day given twice: named line by line
                    seen.add(key)
                    counts.readings += len(wh) + (len(surplus_wh) if surplus_wh else 0)
                    rows.append(
                        (
                            premise_id,
                            day,
                            pack_wh(wh),
                            pack_flags(estimated, len(wh)),
                            pack_wh(surplus_wh) if surplus_wh is not None else None,
                            revision_at,
                            now,
                        )
                    )
                _copy_staging(cursor, rows)
            batch = uuid.uuid4()
            on_phase("writing")
            counts.days_written = _pg_staged_upsert(cursor, batch=batch, now=now)
            counts.days_kept = len(seen) - counts.days_written
            cursor.execute(f"DROP TABLE {_STAGING}")
    except UnicodeDecodeError:
        raise _LineByLine from None
    return counts, batch


def day_csv_rows(*, esi_id, day, wh, estimated=(), revision_at, kind=CONSUMPTION):
    """The CSV rows (lists, in ``INTERVAL_COLUMNS`` order) of one day, as SMT writes
    them: file order, wall-clock ends (``00:00`` for the last interval)."""
    estimated = set(estimated)
    revision = f"{revision_at.astimezone(CENTRAL):%m/%d/%Y %H:%M:%S}"
    return [
        [
            esi_id,
            f"{day:%m/%d/%Y}",
            revision,
            f"{interval_start(day, index):%H:%M}",
            interval_end_wall(day, index),
            f"{Decimal(value).scaleb(-3):.3f}",
            "E" if index in estimated else "A",
            kind,
        ]
        for index, value in enumerate(wh)
    ]
