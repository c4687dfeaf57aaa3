"""Record appends per second with 1, 4 and 16 concurrent writers, before and
after the record was split into independent chains (issue 16).

    DATABASE_URL=postgres://postgres@127.0.0.1:54329/smt_h24_bench \\
        .venv/bin/python bench/bench_records.py [--seconds 5] [--hold-ms 0] [--fresh]

Each writer is a process with its own connection, appending one record per
transaction with ``record_append`` (the call every service makes) for
``--seconds``:

- before: every writer appends records of no CSP, so all of them go to chain 0
  and take its one head row: exactly the old single-head scheme;
- after: writer *i* appends records of CSP *i*, each CSP on its own chain
  (``record_chain_of``), so writers take different head rows.

``--hold-ms`` keeps each transaction open that much longer after the append,
as a service does while it writes the change the record is about (an
agreement's rows, its email): the head stays locked meanwhile.
"""

import argparse
import multiprocessing
import os
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smt_portal.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, connections, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from affirmations.models import RecordEvent  # noqa: E402
from affirmations.records import RECORD_CHAINS, record_append, record_chain_of  # noqa: E402
from csp_registry.models import Csp  # noqa: E402
from csp_registry.services import csp_create_approved  # noqa: E402
from smt_portal.actors import Actor  # noqa: E402

WRITERS = (1, 4, 16)


def main():
    args = _parse_args()
    if connection.vendor != "postgresql":
        sys.exit("run on PostgreSQL (DATABASE_URL=postgres://…)")
    if args.fresh:
        _recreate_database()
    call_command("migrate", verbosity=0)
    csp_ids = _csps(max(WRITERS))
    print(
        f"PostgreSQL {connection.pg_version}, {os.cpu_count()} CPUs; {args.seconds} s per run, "
        f"hold {args.hold_ms} ms after each append"
    )
    rows = []
    for writers in WRITERS:
        before = _run(writers, [None] * writers, args)
        after = _run(writers, csp_ids[:writers], args)
        rows.append((writers, before, after))
    print()
    print("| writers | before: one chain (appends/s) | after: own chains (appends/s) | × |")
    print("|---|---|---|---|")
    for writers, before, after in rows:
        print(f"| {writers} | {before:,.0f} | {after:,.0f} | {after / before:.1f}× |")


def _parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--hold-ms", type=float, default=0.0)
    parser.add_argument("--fresh", action="store_true", help="drop and recreate the database")
    return parser.parse_args()


def _recreate_database():
    name = connection.settings_dict["NAME"]
    connection.close()
    url = urlsplit(os.environ["DATABASE_URL"])
    import psycopg

    with psycopg.connect(f"{url.scheme}://{url.netloc}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')


def _csps(count):
    """``count`` CSPs, each on a chain of its own."""
    now = timezone.now()
    by_chain = {}
    n = 0
    while len(by_chain) < count:
        csp, _ = csp_create_approved(
            name=f"Bench Records {n}", email=f"records-{n}@bench.example", now=now
        )
        by_chain.setdefault(record_chain_of(csp.pk), csp.pk)
        n += 1
    assert count <= RECORD_CHAINS
    return list(by_chain.values())


def _writer(csp_id, seconds, hold_ms, start, counts, index):
    connections.close_all()  # never share the parent's connection
    csp = Csp.objects.get(pk=csp_id) if csp_id is not None else None
    actor = Actor.system()
    start.wait()
    done = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with transaction.atomic():
            record_append(
                event=RecordEvent.OTHER, actor=actor, now=timezone.now(), csp=csp,
                details={"bench": index},
            )  # fmt: skip
            if hold_ms:
                time.sleep(hold_ms / 1000)
        done += 1
    counts[index] = done
    connections.close_all()


def _run(writers, csp_ids, args):
    connections.close_all()
    context = multiprocessing.get_context("fork")
    start = context.Barrier(writers + 1)
    counts = context.Array("q", writers)
    processes = [
        context.Process(
            target=_writer, args=(csp_ids[i], args.seconds, args.hold_ms, start, counts, i)
        )
        for i in range(writers)
    ]
    for process in processes:
        process.start()
    start.wait()
    began = time.monotonic()
    for process in processes:
        process.join()
    elapsed = time.monotonic() - began
    rate = sum(counts) / elapsed
    scheme = "one chain " if csp_ids[0] is None else "own chains"
    print(f"{writers:>2} writers, {scheme}: {sum(counts):>7,} appends, {rate:>8,.0f}/s")
    return rate


if __name__ == "__main__":
    main()
