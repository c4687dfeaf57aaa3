"""Time ``generate_premises`` against DATABASE_URL; print premises/s and usage rows/s.

    createdb -h 127.0.0.1 -p 54329 -U postgres h_data_bench
    DATABASE_URL=postgres://postgres@127.0.0.1:54329/h_data_bench \\
        .venv/bin/python bench/bench_generate.py --count 100000 --reset

It creates the premises tables (``migrate premises``) and the reference data
when missing. ``--reset`` empties the premise tables first so the figures are
for inserts, not for skipping premises that already exist; it is refused
unless the database's name contains "bench".
"""

import argparse
import os
import sys
import time
from io import StringIO
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smt_portal.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402
from tqdm import tqdm  # noqa: E402

from premises.models import Meter, MonthlyUsage, Premise  # noqa: E402
from premises.seed import seed_reference_data  # noqa: E402
from premises.synthetic import BATCH_SIZE, premises_generate  # noqa: E402

TABLES = [MonthlyUsage, Meter, Premise]


def main():
    args = _arguments()
    call_command("migrate", "premises", verbosity=0)
    seed_reference_data(stdout=StringIO())
    if args.reset:
        _reset()
    print(
        f"{connection.vendor} {connection.settings_dict['NAME']}: {args.count} premises, "
        f"batches of {args.batch_size}, {args.workers} workers"
    )
    started = time.perf_counter()
    with tqdm(total=args.count, unit="premise", disable=not sys.stderr.isatty()) as bar:
        result = premises_generate(
            count=args.count,
            seed=args.seed,
            now=timezone.now(),
            batch_size=args.batch_size,
            workers=args.workers,
            on_progress=bar.update,
        )
    seconds = time.perf_counter() - started
    print(f"created {result.created} premises, {result.usage_rows} usage rows in {seconds:.1f}s")
    print(f"  {result.created / seconds:,.0f} premises/second")
    print(f"  {result.usage_rows / seconds:,.0f} usage rows/second")
    if result.skipped_existing:
        print(f"  ({result.skipped_existing} skipped as already present: use --reset)")
    _sizes()


def _arguments():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=BATCH_SIZE)
    parser.add_argument("--workers", type=int, default=min(4, os.cpu_count() or 1))
    parser.add_argument("--reset", action="store_true", help="empty the premise tables first")
    return parser.parse_args()


def _reset():
    name = str(connection.settings_dict["NAME"])
    if "bench" not in name:
        sys.exit(f"refusing to --reset {name!r}: its name does not contain 'bench'")
    if connection.vendor == "postgresql":
        tables = ", ".join(connection.ops.quote_name(m._meta.db_table) for m in TABLES)
        with connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
    else:
        for model in TABLES:
            model.objects.all().delete()


def _sizes():
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for model in TABLES:
            cursor.execute(
                "SELECT pg_size_pretty(pg_total_relation_size(%s))", [model._meta.db_table]
            )
            print(f"  {model._meta.db_table}: {cursor.fetchone()[0]} with indexes")


if __name__ == "__main__":
    main()
