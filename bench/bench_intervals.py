"""The 15-minute store on PostgreSQL: storage, ingest, a year's read and a 1/100-Texas run,
each next to its floor and the goal, in one table.

    createdb -h 127.0.0.1 -p 54329 -U postgres h_intervals_bench
    createdb -h 127.0.0.1 -p 54329 -U postgres h_intervals_bench_read
    DATABASE_URL=postgres://postgres@127.0.0.1:54329/h_intervals_bench \\
        .venv/bin/python bench/bench_intervals.py --premises 2000 --days 30 \\
        --read-premises 10000 --read-days 365 --reuse --texas-hundredth

Sections (``--sections a,b,c,d``; d only with ``--texas-hundredth``, it is slow):

a. Storage: bytes per meter-day including indexes (``pg_total_relation_size``
   summed over the partitions / rows) after ``generate_intervals --premises N
   --days D``, next to a row-per-reading table of the same data (premise_id,
   starts_at, wh, estimated, kind, revision_at; PK (premise_id, starts_at,
   kind)) filled by INSERT … SELECT from the CSV of section b. Goal ≤ 400.
b. Ingest: those days exported as an SMT interval CSV (``day_csv_rows``), then
   ``import_intervals`` (in-process, no progress bar) into an emptied store,
   next to the floor: a raw ``COPY`` of the same file into an unindexed table
   of varchar columns. Goal ≥ 0.5× the floor's readings/s.
c. Read: one ESI ID's full year as JSON through ``GET /api/v1/agreements/{id}/
   interval-data/`` (Django's test Client in-process; server time = from the
   request to the last byte of the streamed body), 200 calls, p50/p99, next to
   the raw SQL fetch of the same rows. Goal p99 ≤ 50 ms. It runs on its own
   database (``--read-database-url``, default: DATABASE_URL's name + ``_read``)
   holding ``--read-premises`` × ``--read-days`` (generated once; ``--reuse``
   keeps what is there and only adds the days since the last run).
d. 1/100 Texas: ``generate_intervals --premises 70000 --days 30`` into an
   emptied store: wall time, readings/s, bytes, and the same on paper for
   7 million meters.

Sections a, b and d empty the interval store of DATABASE_URL (its partitions
are dropped): refused unless that database's name contains "bench" or
``--force`` is given. Each section runs in its own process (the read section
on its own database); this one prints the table.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
TEXAS_METERS = 7_000_000
HUNDREDTH_PREMISES = 70_000
HUNDREDTH_DAYS = 30
GOAL_BYTES = 400
GOAL_INGEST_RATIO = 0.5
GOAL_READ_P99_MS = 50.0
RESULT = "RESULT "


# --- The parent: runs each section in its own process, prints the table -----------------


def main():
    args = _parse_args()
    if args.child:
        _child(args)
        return
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        sys.exit("set DATABASE_URL to a PostgreSQL database (the benchmark is for production)")
    sections = set(args.sections.split(","))
    if not args.texas_hundredth:
        sections.discard("d")
    read_url = args.read_database_url or _renamed(url, suffix="_read")
    name = urlsplit(url).path.lstrip("/")
    if sections & {"a", "b", "d"} and "bench" not in name and not args.force:
        sys.exit(
            f"refusing to empty the interval store of {name!r}: no 'bench' in its name (--force)"
        )
    figures = {}
    started = time.perf_counter()
    if sections & {"a", "b"}:
        figures["store"] = _run_child(args, "store", url)
    if "c" in sections:
        figures["read"] = _run_child(args, "read", read_url)
    if "d" in sections:
        figures["texas"] = _run_child(args, "texas", url)
    _report(args, figures, time.perf_counter() - started)


def _parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sections", default="a,b,c,d", help="any of a,b,c,d (default all)")
    parser.add_argument("--premises", type=int, default=2000, help="a, b: premises (N)")
    parser.add_argument("--days", type=int, default=30, help="a, b: days (D) up to yesterday")
    parser.add_argument("--read-premises", type=int, default=10_000)
    parser.add_argument("--read-days", type=int, default=365)
    parser.add_argument("--read-database-url", default="")
    parser.add_argument("--reuse", action="store_true", help="c: keep the read database's data")
    parser.add_argument("--calls", type=int, default=200, help="c: timed calls of each kind")
    parser.add_argument("--texas-hundredth", action="store_true", help="run d (70,000 × 30)")
    parser.add_argument("--hundredth-premises", type=int, default=HUNDREDTH_PREMISES)
    parser.add_argument("--hundredth-days", type=int, default=HUNDREDTH_DAYS)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--force", action="store_true", help="empty a store without 'bench'")
    parser.add_argument("--child", choices=["store", "read", "texas"], help=argparse.SUPPRESS)
    return parser.parse_args()


def _renamed(url, *, suffix):
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + suffix))


def _run_child(args, section, url):
    command = [sys.executable, __file__, "--child", section, *sys.argv[1:]]
    env = {
        **os.environ,
        "DATABASE_URL": url,
        # In-process requests as production serves them: DEBUG off (no query
        # log), and rate limits raised so the benchmark measures work.
        "DEBUG": "0",
        "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-" + "x" * 50),
        "ALLOWED_HOSTS": "testserver",
        "SECURE_SSL_REDIRECT": "0",
        "LOG_LEVEL": "ERROR",
        "API_RATE_LIMIT_PER_IP": "100000000/m",
        "API_RATE_LIMIT_PER_CSP": "100000000/m",
    }
    print(f"-- section {section} on {urlsplit(url).path.lstrip('/')}", file=sys.stderr, flush=True)
    process = subprocess.run(command, env=env, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    lines = process.stdout.splitlines()
    for line in lines:
        if not line.startswith(RESULT):
            print(line, file=sys.stderr)
    if process.returncode != 0:
        sys.exit(f"section {section} failed (exit status {process.returncode})")
    return json.loads(next(line for line in reversed(lines) if line.startswith(RESULT))[7:])


def _report(args, figures, seconds):
    store, read, texas = figures.get("store"), figures.get("read"), figures.get("texas")
    rows = [*_rows_store(store), *_rows_read(read), *_rows_texas(texas)]
    print(f"\n15-minute store on PostgreSQL, {seconds:.0f} s in all")
    header = ("", "what", "figure", "floor / reference", "goal", "met")
    table = [header] + [
        (*row[:5], "" if row[5] is None else "yes" if row[5] else "NO") for row in rows
    ]
    widths = [max(len(str(row[i])) for row in table) for i in range(6)]
    for row in table:
        print(
            "  ".join(f"{cell:<{width}}" for cell, width in zip(row, widths, strict=True)).rstrip()
        )
    if texas:
        _extrapolate(texas, store)


def _rows_store(store):
    """(section, what, figure, floor or reference, goal, met) of a and b."""
    if not store:
        return []
    size, per_reading, imported = store["size"], store["row_table"], store["size_imported"]
    ingest, floor = store["import"], store["copy"]
    ratio = ingest["readings_per_s"] / floor["readings_per_s"]
    return [
        (
            "a",
            f"bytes per meter-day incl. indexes ({store['days']:,} meter-days)",
            f"{size['per_day']:.0f}",
            f"row per reading: {per_reading['per_day']:,.0f} "
            f"({per_reading['per_day'] / size['per_day']:.1f}×)",
            f"≤ {GOAL_BYTES}",
            size["per_day"] <= GOAL_BYTES,
        ),
        (
            "a",
            "  the same days written by import_intervals",
            f"{imported['per_day']:.0f}",
            "",
            f"≤ {GOAL_BYTES}",
            imported["per_day"] <= GOAL_BYTES,
        ),
        (
            "b",
            f"import_intervals readings/s ({ingest['readings']:,} in {ingest['seconds']:.1f} s)",
            f"{ingest['readings_per_s']:,.0f}",
            f"raw COPY: {floor['readings_per_s']:,.0f} ({floor['seconds']:.1f} s); {ratio:.2f}×",
            f"≥ {GOAL_INGEST_RATIO}×",
            ratio >= GOAL_INGEST_RATIO,
        ),
    ]


def _rows_read(read):
    if not read:
        return []
    sql, size = read["sql"], read["size"]
    what = f"{read['days']} days of one ESI ID; {read['premises']:,} × {read['stored_days']} days"
    floor = f"raw SQL: {sql['p50']:.1f} / {sql['p99']:.1f}"
    goal = f"p99 ≤ {GOAL_READ_P99_MS:.0f}"
    if read.get("api"):
        api, encode = read["api"], read["encode"]
        first = (
            "c",
            f"GET interval-data JSON, p50 / p99 ms ({what})",
            f"{api['p50']:.1f} / {api['p99']:.1f}",
            f"{floor}; +decode+JSON: {encode['p50']:.1f} / {encode['p99']:.1f}",
            goal,
            api["p99"] <= GOAL_READ_P99_MS,
        )
    else:
        first = ("c", f"GET interval-data ({what})", "not measured", floor, goal, None)
    rows = [first]
    if read.get("skipped"):
        rows.append(("c", f"  ({read['skipped']})", "", "", "", None))
    rows.append(
        (
            "c",
            f"  bytes per meter-day there ({size['rows']:,} meter-days)",
            f"{size['per_day']:.0f}",
            "",
            f"≤ {GOAL_BYTES}",
            size["per_day"] <= GOAL_BYTES,
        )
    )
    return rows


def _rows_texas(texas):
    if not texas:
        return []
    size = texas["size"]
    return [
        (
            "d",
            f"generate_intervals {texas['premises']:,} × {texas['days']} days, wall time",
            f"{texas['seconds']:.0f} s",
            f"{texas['readings_per_s']:,.0f} readings/s, "
            f"{texas['meter_days_per_s']:,.0f} meter-days/s",
            "",
            None,
        ),
        (
            "d",
            f"  stored ({size['rows']:,} meter-days)",
            _bytes(size["bytes"]),
            f"{size['per_day']:.0f} bytes per meter-day",
            f"≤ {GOAL_BYTES}",
            size["per_day"] <= GOAL_BYTES,
        ),
    ]


def _extrapolate(texas, store):
    per_day = texas["size"]["per_day"]
    daily = per_day * TEXAS_METERS
    readings = TEXAS_METERS * 96
    scale = TEXAS_METERS / texas["premises"]
    print(f"\nOn paper, {TEXAS_METERS:,} meters ({scale:,.0f}× this run; 96 readings a day):")
    print(f"  {readings:,} readings and {_bytes(daily)} a day; {_bytes(daily * 365)} a year")
    minutes = TEXAS_METERS / texas["meter_days_per_s"] / 60
    print(f"  a day's data by generate_intervals at the measured rate: {minutes:.0f} min")
    if store:
        rate, floor = store["import"]["readings_per_s"], store["copy"]["readings_per_s"]
        print(
            f"  a day's SMT file ({readings:,} lines) by import_intervals at {rate:,.0f} "
            f"readings/s: {readings / rate / 60:.0f} min "
            f"(raw COPY: {readings / floor / 60:.0f} min)"
        )


def _bytes(value):
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:,.1f} {unit}"
        value /= 1024
    return None


# --- The children: one section each, against DATABASE_URL ------------------------------


def _child(args):
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smt_portal.settings")
    import warnings
    from io import StringIO

    import django

    # WhiteNoise finds no collected static files: nothing the benchmark serves.
    warnings.filterwarnings("ignore", message="No directory at")
    django.setup()
    from django.core.management import call_command
    from django.db import connection

    if connection.vendor != "postgresql":
        sys.exit("the interval benchmark is for PostgreSQL")
    call_command("migrate", verbosity=0, stdout=StringIO())
    call_command("seed_reference_data", verbosity=0, stdout=StringIO())
    section = {"store": _section_store, "read": _section_read, "texas": _section_texas}
    result = section[args.child](args)
    print(RESULT + json.dumps(result, default=str), flush=True)


def _premises_ensure(count):
    from django.core.management import call_command

    from premises.models import Premise

    missing = count - Premise.objects.count()
    if missing > 0:
        started = time.perf_counter()
        call_command("generate_premises", count=count, no_progress=True, samples=0, verbosity=0)
        print(f"generate_premises: {count:,} premises in {time.perf_counter() - started:.1f} s")


def _store_empty():
    """Drop every monthly partition: the writers create the ones they need."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT inhrelid::regclass::text FROM pg_inherits "
            "WHERE inhparent = 'premises_intervalday'::regclass"
        )
        for (partition,) in cursor.fetchall():
            cursor.execute(f"DROP TABLE {partition}")
        cursor.execute("TRUNCATE premises_intervalday")


def _store_size():
    """Bytes of the store with its indexes (every partition), and its rows."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(sum(pg_total_relation_size(inhrelid)), 0), "
            "coalesce(sum(pg_indexes_size(inhrelid)), 0) FROM pg_inherits "
            "WHERE inhparent = 'premises_intervalday'::regclass"
        )
        total, indexes = (int(value) for value in cursor.fetchone())
        total += _relation_size(cursor, "premises_intervalday")  # the parent: 0 or a page
        cursor.execute("SELECT count(*) FROM premises_intervalday")
        rows = cursor.fetchone()[0]
    return {"bytes": total, "index_bytes": indexes, "rows": rows, "per_day": total / max(rows, 1)}


def _relation_size(cursor, table):
    cursor.execute("SELECT pg_total_relation_size(%s::regclass)", [table])
    return cursor.fetchone()[0]


def _checkpoint():
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("CHECKPOINT")


def _generate(premises, days, seed):
    from io import StringIO

    from django.core.management import call_command

    started = time.perf_counter()
    out = StringIO()
    call_command(
        "generate_intervals", days=days, premises=premises, seed=seed, no_progress=True, stdout=out
    )
    seconds = time.perf_counter() - started
    print(f"generate_intervals: {out.getvalue().strip()}")
    return seconds


# --- a and b --------------------------------------------------------------------


READING_TABLE = "bench_interval_reading"
RAW_TABLE = "bench_interval_csv"


def _section_store(args):
    from io import StringIO

    from django.core.management import call_command

    _premises_ensure(args.premises)
    _store_empty()
    _checkpoint()
    generate_seconds = _generate(args.premises, args.days, args.seed)
    size = _store_size()
    print(
        f"generate_intervals {args.premises:,} × {args.days}: {generate_seconds:.1f} s; "
        f"store {size['bytes']:,} bytes ({size['index_bytes']:,} of indexes), "
        f"{size['rows']:,} meter-days, {size['per_day']:.1f} bytes each"
    )
    with tempfile.TemporaryDirectory(prefix="bench_intervals_") as folder:
        path = Path(folder) / "intervals.csv"
        started = time.perf_counter()
        readings = _export_csv(path)
        seconds = time.perf_counter() - started
        print(
            f"exported {readings:,} readings (CSV {path.stat().st_size:,} bytes) in {seconds:.1f} s"
        )
        path.read_bytes()  # in the page cache for both: the floor and the import
        _checkpoint()
        copy = _copy_floor(path, readings)
        _store_empty()
        _checkpoint()
        started = time.perf_counter()
        call_command("import_intervals", str(path), no_progress=True, stdout=StringIO())
        seconds = time.perf_counter() - started
    print(
        f"COPY floor {copy['seconds']:.1f} s, {copy['readings_per_s']:,.0f} readings/s; "
        f"import_intervals {seconds:.1f} s, {readings / seconds:,.0f} readings/s"
    )
    size_imported = _store_size()
    if size_imported["rows"] != size["rows"]:
        sys.exit(f"import_intervals wrote {size_imported['rows']} days, expected {size['rows']}")
    row_table = _reading_table(size["rows"])
    print(
        f"row per reading: {row_table['bytes']:,} bytes for {row_table['rows']:,} readings, "
        f"{row_table['per_day']:.1f} bytes per meter-day"
    )
    return {
        "days": size["rows"],
        "generate_seconds": generate_seconds,
        "size": size,
        "size_imported": size_imported,
        "row_table": row_table,
        "copy": copy,
        "import": {"readings": readings, "seconds": seconds, "readings_per_s": readings / seconds},
    }


def _export_csv(path):
    """The stored days as an SMT interval CSV (premise by ESI ID, then day): readings written.

    ``day_csv_rows`` writes each date's start and end columns once (they depend on
    the date only); each day's values are then set in its rows as it writes them.
    """
    from functools import lru_cache

    from django.utils import timezone

    from premises.interval_feed import CONSUMPTION, INTERVAL_COLUMNS, SURPLUS, day_csv_rows
    from premises.intervals import intervals_in_day, unpack_wh
    from premises.models import IntervalDay
    from smt_portal.calendar import CENTRAL
    from smt_portal.csv_export import csv_lines

    @lru_cache(maxsize=1000)
    def times(day):
        template = day_csv_rows(
            esi_id="", day=day, wh=[0] * intervals_in_day(day), revision_at=timezone.now()
        )
        return [(row[3], row[4]) for row in template]

    def rows(stored, wh, estimated, kind):
        esi_id, usage_date = stored.premise.esi_id, f"{stored.day:%m/%d/%Y}"
        revision = f"{stored.revision_at.astimezone(CENTRAL):%m/%d/%Y %H:%M:%S}"
        return [
            [esi_id, usage_date, revision, start, end, f"{value // 1000}.{value % 1000:03d}",
             "E" if index in estimated else "A", kind]
            for index, ((start, end), value) in enumerate(zip(times(stored.day), wh, strict=True))
        ]  # fmt: skip

    def all_rows():
        days = IntervalDay.objects.select_related("premise").order_by("premise__esi_id", "day")
        for stored in days.iterator(chunk_size=5000):
            estimated = set(stored.estimated_indexes)
            yield from rows(stored, unpack_wh(stored.wh), estimated, CONSUMPTION)
            if stored.surplus_wh:
                yield from rows(stored, unpack_wh(stored.surplus_wh), (), SURPLUS)

    lines = 0
    with path.open("w", newline="") as handle:
        for line in csv_lines(INTERVAL_COLUMNS, all_rows()):
            handle.write(line)
            lines += 1
    return lines - 1  # the header


def _copy_floor(path, readings):
    """The floor: the same file by COPY into an unindexed table of varchar columns."""
    from django.db import connection, transaction

    from premises.interval_feed import INTERVAL_COLUMNS

    columns = ", ".join(f"{name.lower()} varchar" for name in INTERVAL_COLUMNS)
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {RAW_TABLE}")
        cursor.execute(f"CREATE TABLE {RAW_TABLE} ({columns})")
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor, path.open("rb") as handle:
        with cursor.copy(f"COPY {RAW_TABLE} FROM STDIN (FORMAT csv, HEADER true)") as copy:
            while block := handle.read(1 << 20):
                copy.write(block)
    seconds = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {RAW_TABLE}")
        copied = cursor.fetchone()[0]
    if copied != readings:
        sys.exit(f"COPY read {copied} lines, expected {readings}")
    return {"seconds": seconds, "readings_per_s": readings / seconds}


def _reading_table(meter_days):
    """A row per reading of the same data, from the COPY floor's table: the start of
    each reading is the day's local midnight plus its place in the file (elapsed time,
    so the fall-back day's repeated hour is two distinct instants)."""
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {READING_TABLE}")
        cursor.execute(
            f"CREATE TABLE {READING_TABLE} (premise_id bigint NOT NULL, "
            "starts_at timestamptz NOT NULL, wh int NOT NULL, estimated bool NOT NULL, "
            "kind smallint NOT NULL, revision_at timestamptz NOT NULL, "
            "PRIMARY KEY (premise_id, starts_at, kind))"
        )
        cursor.execute(
            f"""
            INSERT INTO {READING_TABLE}
            SELECT p.id,
                   (to_date(r.usage_date, 'MM/DD/YYYY')::timestamp AT TIME ZONE 'America/Chicago')
                     + (row_number() OVER (PARTITION BY r.esiid, r.usage_date,
                                           r.consumption_surplusgeneration ORDER BY r.ctid) - 1)
                       * interval '15 minutes',
                   round(r.usage_kwh::numeric * 1000)::int,
                   r.estimated_actual = 'E',
                   CASE WHEN r.consumption_surplusgeneration = 'Consumption' THEN 0 ELSE 1 END,
                   to_timestamp(r.revision_date, 'MM/DD/YYYY HH24:MI:SS')::timestamp
                     AT TIME ZONE 'America/Chicago'
            FROM {RAW_TABLE} r JOIN premises_premise p ON p.esi_id = r.esiid
            ORDER BY 1, 2, 5
            """  # noqa: S608 - fixed table names
        )
        rows = cursor.rowcount
        size = _relation_size(cursor, READING_TABLE)
    return {"bytes": size, "rows": rows, "per_day": size / max(meter_days, 1)}


# --- c --------------------------------------------------------------------------


def _section_read(args):
    from datetime import timedelta

    from django.utils import timezone

    from smt_portal.calendar import CENTRAL

    _premises_ensure(args.read_premises)
    now = timezone.now()
    yesterday = now.astimezone(CENTRAL).date() - timedelta(days=1)
    generated = _read_data_ensure(args, yesterday)
    premise = _read_premise(args.read_premises, yesterday - timedelta(days=args.read_days - 1))
    first, last = yesterday - timedelta(days=args.read_days - 1), yesterday
    result = {
        "premises": args.read_premises,
        "stored_days": args.read_days,
        "generate_seconds": generated,
        "size": _store_size(),
        "sql": _time_sql(premise.pk, first, last, args.calls),
        "encode": _time_encode(premise, first, last, args.calls),
    }
    skipped = _endpoint_missing()
    if skipped:
        result.update(days=(last - first).days + 1, skipped=skipped)
        return result
    key, agreement = _read_agreement(premise, now)
    window = _window(agreement, premise, first, last)
    if window is None:
        result.update(days=0, skipped="the agreement's data window does not cover the year")
        return result
    first, last = window
    result["days"] = (last - first).days + 1
    result["sql"] = _time_sql(premise.pk, first, last, args.calls)
    result["encode"] = _time_encode(premise, first, last, args.calls)
    result["api"] = _time_api(agreement, premise, key, first, last, args.calls)
    return result


def _read_data_ensure(args, yesterday):
    """Generate the read database's year once; with --reuse keep it, adding only the
    days since it was generated."""
    from datetime import timedelta

    from django.db.models import Max

    from premises.models import IntervalDay

    first = yesterday - timedelta(days=args.read_days - 1)
    latest = IntervalDay.objects.aggregate(latest=Max("day"))["latest"]
    days = args.read_days
    if args.reuse and latest is not None and latest >= first:
        held = IntervalDay.objects.filter(day__range=(first, latest)).count()
        if held >= args.read_premises * ((latest - first).days + 1):
            days = (yesterday - latest).days
            if days <= 0:
                print(f"--reuse: the store holds {held:,} meter-days to {latest}")
                return None
    seconds = _generate(args.read_premises, days, args.seed)
    print(f"generate_intervals {args.read_premises:,} × {days} days: {seconds:.1f} s")
    return seconds


def _read_premise(count, first):
    """A residential premise from the middle of the generated ones, with no move-in inside
    the year (its window is then the agreement's)."""
    from django.db.models import Q

    from premises.models import CustomerClass, Premise

    chosen = Premise.objects.order_by("esi_id")[:count]
    candidates = Premise.objects.filter(
        Q(occupant_since__isnull=True) | Q(occupant_since__lte=first),
        pk__in=chosen.values("pk"),
        customer_class=CustomerClass.RESIDENTIAL,
    ).order_by("esi_id")
    total = candidates.count()
    if not total:
        sys.exit("no residential premise with a year of data")
    return candidates[total // 2]


def _endpoint_missing():
    from django.urls import Resolver404, resolve

    try:
        resolve("/api/v1/agreements/1/interval-data/")
    except Resolver404:
        return "GET /api/v1/agreements/{id}/interval-data/ is not on this commit"
    return ""


def _read_agreement(premise, now):
    """A benchmark CSP's key and an active agreement for ``premise`` (reused when there)."""
    from affirmations.lifecycle.decisions import disclosure_current
    from affirmations.models import Agreement, AgreementStatus
    from affirmations.services import agreement_opt_in, agreement_request
    from csp_registry.services import csp_create_approved, csp_rotate_keys
    from premises.models import Meter
    from smt_portal.actors import Actor

    csp, _ = csp_create_approved(
        name="Benchmark CSP (intervals)", email="intervals@bench.example", now=now,
        facts={"scope_of_use": "Bench advice.", "scope_of_use_es": "Asesoría de prueba."},
    )  # fmt: skip
    _, key = csp_rotate_keys(csp=csp, now=now, name="bench_intervals")
    agreement = Agreement.objects.filter(
        csp=csp, status=AgreementStatus.ACTIVE, premises__premise=premise
    ).first()
    if agreement is None:
        meter = Meter.objects.get(premise=premise, removed_on__isnull=True)
        certificate = premise.rep_of_record.certificate_number
        agreement = agreement_request(
            csp=csp, premises=[(premise.esi_id, meter.number, certificate)],
            customer_email="bench.customer@bench.example", term_months=12, language="en",
            actor=Actor.csp(csp, key_prefix="bench", ip="127.0.0.1", user_agent="bench"), now=now,
        )  # fmt: skip
        agreement = agreement_opt_in(
            agreement=agreement,
            actor=Actor.customer(ip="127.0.0.1", user_agent="bench"),
            disclosure=disclosure_current(),
            now=now,
        )
    return key, agreement


def _window(agreement, premise, first, last):
    """The year asked for, inside what the agreement lets its CSP read now."""
    from django.utils import timezone

    from affirmations.rules import data_window

    window = data_window(agreement, premise, timezone.now())
    if window is None:
        return None
    first, last = max(first, window.first), min(last, window.last)
    return (first, last) if first <= last else None


def _time_api(agreement, premise, key, first, last, calls):
    from django.test import Client

    client = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    path = f"/api/v1/agreements/{agreement.pk}/interval-data/"
    query = {"esi_id": premise.esi_id, "start": f"{first}", "end": f"{last}"}

    def call():
        started = time.perf_counter()
        response = client.get(path, query)
        body = b"".join(response.streaming_content) if response.streaming else response.content
        return time.perf_counter() - started, response.status_code, body

    _, status, body = call()
    if status != 200:
        sys.exit(f"GET {path} answered {status}: {body[:300]!r}")
    document = json.loads(body)
    days = document["days"]
    if len(days) != (last - first).days + 1 or any(
        len(d["kwh"]) not in (92, 96, 100) for d in days
    ):
        sys.exit(f"GET {path} did not answer the year: {len(days)} days")
    for _ in range(10):  # warm-up
        call()
    latencies = []
    for _ in range(calls):
        seconds, status, _ = call()
        if status != 200:
            sys.exit(f"GET {path} answered {status}")
        latencies.append(seconds)
    return {**_percentiles(latencies), "body_bytes": len(body), "streamed": True}


def _time_sql(premise_id, first, last, calls):
    """The floor: the raw fetch of the same rows."""
    from django.db import connection

    sql = (
        "SELECT day, wh, estimated, surplus_wh, revision_at FROM premises_intervalday "
        "WHERE premise_id = %s AND day BETWEEN %s AND %s ORDER BY day"
    )
    latencies = []
    with connection.cursor() as cursor:
        for index in range(calls + 10):
            started = time.perf_counter()
            cursor.execute(sql, [premise_id, first, last])
            rows = cursor.fetchall()
            if index >= 10:
                latencies.append(time.perf_counter() - started)
    if not rows:
        sys.exit(f"no stored days for premise {premise_id} from {first} to {last}")
    return {**_percentiles(latencies), "rows": len(rows)}


def _time_encode(premise, first, last, calls):
    """For reference: the same rows fetched through the model, decoded and written as the
    contract's JSON (no gate, no log, no HTTP)."""
    from premises.intervals import unpack_wh
    from premises.models import IntervalDay

    latencies = []
    for index in range(calls + 10):
        started = time.perf_counter()
        days = [
            {
                "date": f"{stored.day}",
                "kwh": [value / 1000 for value in unpack_wh(stored.wh)],
                "estimated": stored.estimated_indexes,
            }
            for stored in IntervalDay.objects.filter(
                premise=premise, day__range=(first, last)
            ).order_by("day")
        ]
        body = json.dumps(
            {"esi_id": premise.esi_id, "timezone": "America/Chicago", "unit": "kWh", "days": days}
        ).encode()
        if index >= 10:
            latencies.append(time.perf_counter() - started)
    return {**_percentiles(latencies), "body_bytes": len(body)}


def _percentiles(latencies):
    ordered = sorted(latencies)
    return {
        "p50": statistics.median(ordered) * 1000,
        "p99": ordered[max(int(len(ordered) * 0.99) - 1, 0)] * 1000,
    }


# --- d --------------------------------------------------------------------------


def _section_texas(args):
    premises, days = args.hundredth_premises, args.hundredth_days
    _premises_ensure(premises)
    _store_empty()
    _checkpoint()
    seconds = _generate(premises, days, args.seed)
    size = _store_size()
    readings = _readings()
    print(
        f"generate_intervals {premises:,} × {days}: {seconds:.1f} s, "
        f"{readings:,} readings, {size['bytes']:,} bytes"
    )
    return {
        "premises": premises,
        "days": days,
        "seconds": seconds,
        "readings": readings,
        "readings_per_s": readings / seconds,
        "meter_days_per_s": size["rows"] / seconds,
        "size": size,
    }


def _readings():
    """Readings stored (consumption and surplus), from the days' lengths in intervals."""
    from django.db.models import Count

    from premises.intervals import intervals_in_day
    from premises.models import IntervalDay

    total = 0
    per_day = IntervalDay.objects.values_list("day").annotate(
        count=Count("*"), surplus=Count("surplus_wh")
    )
    for day, count, surplus in per_day:
        total += intervals_in_day(day) * (count + surplus)
    return total


if __name__ == "__main__":
    main()
