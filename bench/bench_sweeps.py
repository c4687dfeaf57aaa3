"""The time-out sweep over N overdue pending agreements, next to a raw SQL UPDATE.

    DATABASE_URL=postgres://postgres@127.0.0.1:54329/h_agree_bench \\
        .venv/bin/python bench/bench_sweeps.py --count 1000000 [--fresh]

Loads N pending agreements whose deadline has passed (``generate_series``:
K CSPs x M premises, one open AgreementPremise each), then times:

1. the floor: the bare ``UPDATE`` of the same agreements (and their premise
   rows), in a transaction that is rolled back so the rows stay pending;
2. ``agreements_time_out``: lock + one UPDATE of agreements, one of premises,
   one of renewals, one hash-chained record and one CSP event (the agreement
   as the API shows it, built by the database: ``affirmations/event_sql.py``)
   per agreement.

``--profile`` runs the sweep under cProfile and prints where its time went.

``--fresh`` drops and recreates the database first (records cannot be deleted:
the trigger refuses it, so a second run needs a fresh database).
"""

import argparse
import cProfile
import math
import os
import pstats
import sys
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smt_portal.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from affirmations.models import Agreement, AgreementPremise, Record  # noqa: E402
from affirmations.services import agreements_time_out  # noqa: E402
from csp_registry.models import CspEvent  # noqa: E402

PREMISES_PER_CSP = 1000


def main():
    args = _parse_args()
    if connection.vendor != "postgresql":
        sys.exit("run on PostgreSQL (DATABASE_URL=postgres://…)")
    if args.fresh:
        _recreate_database()
    call_command("migrate", verbosity=0)
    call_command("seed_reference_data", stdout=open(os.devnull, "w"))  # noqa: SIM115
    now = timezone.now()
    _load(args.count, now)
    print(f"PostgreSQL {connection.pg_version}: {args.count:,} overdue pending agreements")
    raw = _time_raw_update(now)
    swept, elapsed = _time_sweep(now, profile=args.profile)
    _report(args.count, raw, swept, elapsed)


def _parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--fresh", action="store_true", help="drop and recreate the database")
    parser.add_argument("--profile", action="store_true", help="cProfile the sweep")
    return parser.parse_args()


def _recreate_database():
    settings_dict = connection.settings_dict
    name = settings_dict["NAME"]
    connection.close()
    url = urlsplit(os.environ["DATABASE_URL"])
    admin = f"{url.scheme}://{url.netloc}/postgres"
    import psycopg

    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')


def _load(count, now):
    """N pending agreements past their deadline, in a few set-based statements."""
    if Agreement.objects.filter(status="pending_affirmation").count() >= count:
        return
    started = time.monotonic()
    csps = math.ceil(count / PREMISES_PER_CSP)
    _premises(min(count, PREMISES_PER_CSP))
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO csp_registry_csp (legal_name, dba_name, duns_number,
                puct_registration_number, contact_name, contact_email, contact_phone,
                notice_email, mailing_address, website_url, privacy_policy_url, scope_of_use,
                scope_of_use_es, registered_ip_ranges, status, status_changed_at, created_at)
            SELECT 'Bench CSP ' || g, '', '000000000', '', 'Bench', 'bench' || g || '@example.com',
                   '', 'bench@example.com', '-', '', 'https://example.com/p', 'bench', 'bench', '',
                   'active', %s, %s
            FROM generate_series(1, %s) g
            """,
            [now, now, csps],
        )
        cursor.execute(
            """
            CREATE TEMP TABLE bench_slots ON COMMIT DROP AS
            SELECT row_number() OVER () AS n, c.id AS csp_id, p.id AS premise_id, p.esi_id,
                   p.service_address
            FROM (SELECT id FROM csp_registry_csp WHERE legal_name LIKE 'Bench CSP %%') c
            CROSS JOIN (SELECT id, esi_id, service_address FROM premises_premise
                        ORDER BY id LIMIT %s) p
            LIMIT %s
            """,
            [PREMISES_PER_CSP, count],
        )
        past = now - timedelta(days=1)
        cursor.execute(
            """
            INSERT INTO affirmations_agreement (csp_id, status, customer_email, language,
                term_months, max_term_months, confirmation_code, created_at,
                affirmation_sent_at, affirmation_expires_at, renewal_count, ended_by, end_reason,
                renewal_window_days)
            SELECT csp_id, 'pending_affirmation', 'c' || n || '@example.com', 'en', 12, 12,
                   'BENCH' || (n %% 1000), %s, %s, %s, 0, '', '', 30
            FROM bench_slots ORDER BY n
            """,
            [past - timedelta(days=7), past - timedelta(days=7), past],
        )
        cursor.execute(
            """
            INSERT INTO affirmations_agreementpremise (agreement_id, premise_id, csp_id, esi_id,
                service_address, large_commercial, is_open)
            SELECT a.id, s.premise_id, s.csp_id, s.esi_id, s.service_address, false, true
            FROM bench_slots s
            JOIN affirmations_agreement a
              ON a.customer_email = 'c' || s.n || '@example.com' AND a.csp_id = s.csp_id
            """
        )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE affirmations_agreement")
        cursor.execute("VACUUM ANALYZE affirmations_agreementpremise")
    print(f"loaded {count:,} agreements in {time.monotonic() - started:.1f}s")


def _premises(needed):
    from premises.models import Premise

    have = Premise.objects.count()
    if have < needed:
        call_command("generate_premises", count=needed, no_progress=True, samples=0)


def _time_raw_update(now):
    """The floor: the same rows changed by bare SQL, then rolled back."""
    timings = {}
    with connection.cursor() as cursor:
        cursor.execute("BEGIN")
        started = time.monotonic()
        cursor.execute(
            """
            UPDATE affirmations_agreementpremise SET is_open = false
            WHERE is_open AND agreement_id IN (
                SELECT id FROM affirmations_agreement
                WHERE status = 'pending_affirmation' AND affirmation_expires_at < %s)
            """,
            [now],
        )
        timings["premises"] = time.monotonic() - started
        started = time.monotonic()
        cursor.execute(
            """
            UPDATE affirmations_agreement
            SET status = 'timed_out', ended_at = %s, ended_by = 'system'
            WHERE status = 'pending_affirmation' AND affirmation_expires_at < %s
            """,
            [now, now],
        )
        timings["agreements"] = time.monotonic() - started
        timings["rows"] = cursor.rowcount
        cursor.execute("ROLLBACK")
    with connection.cursor() as cursor:
        cursor.execute("VACUUM affirmations_agreement")
        cursor.execute("VACUUM affirmations_agreementpremise")
    return timings


def _time_sweep(now, *, profile=False):
    records_before = Record.objects.count()
    events_before = CspEvent.objects.count()
    profiler = cProfile.Profile() if profile else None
    started = time.monotonic()
    if profiler:
        profiler.enable()
    swept = agreements_time_out(now=now)
    if profiler:
        profiler.disable()
    elapsed = time.monotonic() - started
    written = Record.objects.count() - records_before
    events = CspEvent.objects.count() - events_before
    still_open = AgreementPremise.objects.filter(is_open=True).count()
    assert written == swept == events and still_open == 0, (written, swept, events, still_open)  # noqa: S101
    if profiler:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)
    return swept, elapsed


def _report(count, raw, swept, elapsed):
    raw_total = raw["agreements"] + raw["premises"]
    print()
    print(f"{'':<44}{'seconds':>10}{'rows/s':>14}")
    print(f"{'raw SQL UPDATE agreements':<44}{raw['agreements']:>10.2f}"
          f"{raw['rows'] / raw['agreements']:>14,.0f}")  # fmt: skip
    print(f"{'raw SQL UPDATE agreements + premises':<44}{raw_total:>10.2f}"
          f"{raw['rows'] / raw_total:>14,.0f}")  # fmt: skip
    print(f"{'agreements_time_out (incl. records)':<44}{elapsed:>10.2f}{swept / elapsed:>14,.0f}")
    print(f"\nsweep / raw (agreements + premises): {elapsed / raw_total:.1f}x; "
          f"{swept:,} timed out, {swept:,} records and events written")  # fmt: skip


if __name__ == "__main__":
    main()
