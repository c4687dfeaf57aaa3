"""Latency of premise authentication (R3) on a realistic premise table.

    DATABASE_URL=postgres://postgres@127.0.0.1:54329/h_auth_bench \\
        .venv/bin/python bench/bench_authentication.py [--generate N] [--lookups 10000]

Expects premises in the database (``--generate N`` runs ``seed_reference_data``
and ``generate_premises --count N`` first; both are idempotent). Times
``premise_authenticate`` one call at a time, as the API calls it: half the
lookups succeed, half fail, spread over the three reasons. Each call runs
the joined lookup (the policy read with it; a prepared statement on
PostgreSQL) and writes its attempt row (autocommit). Then times
``premises_authenticate`` on batches of 200, as the agreements API calls it.
Every attempt is written to the database under test. Before each, in the same
run, the floor: one indexed SELECT and one attempt INSERT per call. The
lookup's tables are first read into memory (``pg_prewarm``), and floor and
portal run ``--rounds`` times alternately: the last round is the figure.
Each round also times the calls as the API makes them: the attempt queued
(``smt_portal.request_writes``) for the request's one final write, which
then carries it with the request log; that write is timed apart (here it
carries the attempt alone).
``--profile`` ends with a cProfile of the single calls.
"""

import argparse
import os
import random
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smt_portal.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402
from lookup_prewarm import lookup_relations_prewarm  # noqa: E402

from premises.models import Meter, Premise, RetailElectricProvider  # noqa: E402
from premises.services import premise_authenticate, premises_authenticate  # noqa: E402
from smt_portal.request_writes import (  # noqa: E402
    request_writes_collected,
    request_writes_defer,
    request_writes_flush,
)

BATCH = 200


def main():
    args = _parse_args()
    if args.generate:
        call_command("seed_reference_data")
        call_command("generate_premises", count=args.generate, no_progress=True, samples=0)
    total = Premise.objects.count()
    if not total:
        sys.exit("no premises: run with --generate N")
    rng = random.Random(args.seed)
    cases = _cases(rng, args.lookups)
    print(f"{connection.vendor}: {total:,} premises; {len(cases):,} lookups")
    lookup_relations_prewarm()
    for round_ in range(1, args.rounds + 1):
        # The first round also warms what the prewarm could not (the cases' own
        # pages, the connection's prepared statements); the last is the figure.
        print(f"-- round {round_} of {args.rounds}")
        _time_floor(cases)
        _time_single(cases)
        _time_single_as_the_api(cases)
    _time_batches(rng, cases, args.batches)
    if args.profile:
        _profile(cases)


def _parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generate", type=int, default=0, metavar="N")
    parser.add_argument("--lookups", type=int, default=10_000)
    parser.add_argument("--batches", type=int, default=20, help=f"batches of {BATCH} triples")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rounds", type=int, default=2, help="floor and portal, alternately")
    parser.add_argument(
        "--profile", action="store_true", help="then cProfile the single calls (top functions)"
    )
    return parser.parse_args()


def _valid_triples(rng, count):
    """``count`` random existing premises, their active meter and REP of record."""
    bounds = Premise.objects.order_by("pk").values_list("pk", flat=True)
    low, high = bounds.first(), bounds.last()
    ids = rng.sample(range(low, high + 1), min(high - low + 1, count * 2))
    rows = Meter.objects.filter(premise_id__in=ids, removed_on=None).values_list(
        "premise__esi_id", "number", "premise__rep_of_record__certificate_number"
    )
    triples = list(rows)
    rng.shuffle(triples)
    return triples[:count]


def _cases(rng, lookups):
    """(expected outcome, triple) pairs: half valid, half failing for mixed reasons."""
    valid = _valid_triples(rng, lookups)
    certificates = list(RetailElectricProvider.objects.values_list("certificate_number", flat=True))
    cases = []
    for i, (esi_id, meter, certificate) in enumerate(valid):
        if i % 2 == 0:
            cases.append(("authenticated", (esi_id, meter, certificate)))
        elif i % 6 == 1:
            # Same prefix and length as a real one; the tail makes it unknown
            # (a collision with a real premise is possible but vanishingly rare).
            unknown = esi_id[:-6] + f"{rng.randrange(10**6):06d}"
            cases.append(("unknown_esi_id", (unknown, meter, certificate)))
        elif i % 6 == 3:
            cases.append(("meter_mismatch", (esi_id, f"{rng.randrange(10**9):09d}", certificate)))
        else:
            other = rng.choice([c for c in certificates if c != certificate])
            cases.append(("rep_mismatch", (esi_id, meter, other)))
    rng.shuffle(cases)
    return cases


def _time_single_as_the_api(cases):
    """``premise_authenticate`` as the API's view calls it: inside the
    request's collection of rows, deferred (``PremiseAuthenticationView``),
    so that the attempt waits for the request's final write; and that write."""
    service, final_write = [], []
    for _, (esi_id, meter, certificate) in cases:
        with request_writes_collected() as queued:
            request_writes_defer()
            started = time.perf_counter()
            premise_authenticate(
                esi_id=esi_id, meter_number=meter, rep_certificate_number=certificate,
                ip="203.0.113.10", now=timezone.now(),
            )  # fmt: skip
            written = time.perf_counter()
            request_writes_flush(queued)
            final_write.append(time.perf_counter() - written)
            service.append(written - started)
    print("premise_authenticate as the API calls it, its attempt queued (ms):")
    _report("service", service)
    _report("final write", final_write)


def _time_single(cases):
    timings = defaultdict(list)
    surprises = 0
    for expected, (esi_id, meter, certificate) in cases:
        started = time.perf_counter()
        result = premise_authenticate(
            esi_id=esi_id,
            meter_number=meter,
            rep_certificate_number=certificate,
            ip="203.0.113.10",
            now=timezone.now(),
        )
        elapsed = time.perf_counter() - started
        outcome = "authenticated" if result.authenticated else "failed"
        surprises += result.authenticated != (expected == "authenticated")
        timings["all"].append(elapsed)
        timings[outcome].append(elapsed)
        timings[f"  {expected}"].append(elapsed)
    print(f"premise_authenticate, one call at a time (ms); {surprises} unexpected outcomes:")
    for label in ("all", "authenticated", "failed", "  unknown_esi_id", "  meter_mismatch",
                  "  rep_mismatch"):  # fmt: skip
        _report(label, timings[label])


# What a lookup reads. In production they stay in memory (about 2 GiB at
# 7,000,000 premises); a freshly generated database has them on disk.
# (the primary key: the attempt's foreign key is checked against it).
def _time_floor(cases):
    """The floor, in the same run: one indexed SELECT of the premise by ESI ID
    and one single-row INSERT of the attempt naming the premise found (its
    foreign key checked, as the portal's is), each committed, nothing else."""
    timings = []
    with connection.cursor() as cursor:
        for _, (esi_id, meter, certificate) in cases:
            started = time.perf_counter()
            cursor.execute("SELECT id FROM premises_premise WHERE esi_id = %s", [esi_id])
            found = cursor.fetchone()
            cursor.execute(
                "INSERT INTO monitoring_premiseauthenticationattempt (created_at, ip, esi_id, "
                "meter_number, rep_certificate_number, authenticated, failure_reason, premise_id) "
                "VALUES (now(), '203.0.113.10', %s, %s, %s, false, 'meter_mismatch', %s)",
                [esi_id, meter, certificate, found[0] if found else None],
            )
            timings.append(time.perf_counter() - started)
    print("floor: one indexed SELECT + one attempt INSERT (its premise), autocommit (ms):")
    _report("floor", timings)


def _profile(cases):
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    for _, (esi_id, meter, certificate) in cases:
        premise_authenticate(
            esi_id=esi_id, meter_number=meter, rep_certificate_number=certificate,
            ip="203.0.113.10", now=timezone.now(),
        )  # fmt: skip
    profiler.disable()
    print("cProfile of the single calls, top 20 by own time:")
    pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime").print_stats(20)


def _time_batches(rng, cases, batches):
    triples = [triple for _, triple in cases]
    timings = []
    for _ in range(batches):
        batch = rng.sample(triples, min(BATCH, len(triples)))
        started = time.perf_counter()
        premises_authenticate(triples=batch, ip="203.0.113.10", now=timezone.now())
        timings.append(time.perf_counter() - started)
    print(f"premises_authenticate, batches of {BATCH} (ms):")
    _report("batch", timings)


def _report(label, seconds):
    if not seconds:
        return
    ms = sorted(s * 1000 for s in seconds)
    p50 = statistics.median(ms)
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    print(f"  {label:<16} n={len(ms):>6,}  p50={p50:7.3f}  p99={p99:7.3f}  max={ms[-1]:8.3f}")


if __name__ == "__main__":
    main()
