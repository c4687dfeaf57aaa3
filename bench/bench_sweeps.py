"""The time-out sweep over N overdue pending agreements, next to a raw SQL UPDATE.

    DATABASE_URL=postgres://postgres@127.0.0.1:54329/h_agree_bench \\
        .venv/bin/python bench/bench_sweeps.py --count 1000000 [--fresh]

Loads N pending agreements whose deadline has passed (``generate_series``:
K CSPs x M premises, one open AgreementPremise each), then times:

1. the floor: the bare ``UPDATE`` of the same agreements (and their premise
   rows), in a transaction that is rolled back so the rows stay pending;
2. the floor with the rows it owes: the same UPDATEs (and the renewals'),
   plus one record row per agreement (``INSERT … SELECT``, its hash a SHA-256
   of a few columns computed by the database, no chaining) and one CSP event
   per agreement (``INSERT … SELECT`` of ``event_sql``'s payload, as the sweep
   writes it), rolled back too;
3. ``agreements_time_out``: lock + one UPDATE of agreements, one of premises,
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

from affirmations.event_sql import agreement_events_select  # noqa: E402
from affirmations.events import EVENT_OF_RECORD  # noqa: E402
from affirmations.models import (  # noqa: E402
    Agreement,
    AgreementPremise,
    AgreementStatus,
    Record,
    RecordEvent,
    RenewalStatus,
)
from affirmations.records import RECORD_CHAINS  # noqa: E402
from affirmations.services import agreements_time_out  # noqa: E402
from csp_registry.models import CspEvent  # noqa: E402
from smt_portal.actors import Actor  # noqa: E402

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
    owed = _time_raw_with_rows(now)
    swept, elapsed = _time_sweep(now, profile=args.profile)
    _report(args.count, raw, owed, swept, elapsed)


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


def _time_raw_with_rows(now):
    """The second floor: the sweep's status changes and the rows it owes (a
    record and an event per agreement), each one set-based statement, then
    rolled back. The records' hashes are the database's SHA-256 of a few
    columns, not chained: the cheapest the database can write those rows."""
    due = "status = %(pending)s AND affirmation_expires_at < %(now)s"
    moved = "a.status = %(timed_out)s AND a.ended_at = %(now)s"
    actor = Actor.system()
    params = {
        "now": now,
        "pending": AgreementStatus.PENDING_AFFIRMATION,
        "timed_out": AgreementStatus.TIMED_OUT,
        "event": RecordEvent.TIMED_OUT,
        "actor_type": actor.type,
        "actor": actor.label,
        "chains": RECORD_CHAINS,
        "renewal_pending": RenewalStatus.PENDING,
        "renewal_cancelled": RenewalStatus.CANCELLED,
    }
    events_sql, events_params = agreement_events_select(
        event_type=EVENT_OF_RECORD[RecordEvent.TIMED_OUT], where=moved
    )
    statements = {
        "premises": f"""
            UPDATE affirmations_agreementpremise SET is_open = false
            WHERE is_open AND agreement_id IN (SELECT id FROM affirmations_agreement WHERE {due})
            """,  # noqa: S608
        "renewals": f"""
            UPDATE affirmations_renewal SET status = %(renewal_cancelled)s, decided_at = %(now)s
            WHERE status = %(renewal_pending)s
              AND agreement_id IN (SELECT id FROM affirmations_agreement WHERE {due})
            """,  # noqa: S608
        "agreements": f"""
            UPDATE affirmations_agreement
            SET status = %(timed_out)s, ended_at = %(now)s, ended_by = 'system',
                end_reason = 'No answer within five weekdays.'
            WHERE {due}
            """,  # noqa: S608
        "records": f"""
            INSERT INTO affirmations_record (created_at, event, agreement_id, csp_id,
                actor_type, actor, ip, user_agent, details, previous_hash, hash, chain, seq,
                hash_version)
            SELECT %(now)s, %(event)s, a.id, a.csp_id, %(actor_type)s, %(actor)s, NULL, '',
                   jsonb_build_object('from_status', %(pending)s::text,
                                      'to_status', %(timed_out)s::text),
                   repeat('0', 64),
                   encode(sha256(convert_to(a.id || ':' || a.csp_id || ':' || %(event)s
                                            || ':' || %(now)s::text, 'UTF8')), 'hex'),
                   a.csp_id %% %(chains)s, %(base_seq)s + a.id, 2
            FROM affirmations_agreement a WHERE {moved}
            """,  # noqa: S608
        "events": f"""
            INSERT INTO csp_registry_cspevent
                (csp_id, type, agreement_id, sandbox, data, occurred_at)
            SELECT s.csp_id, s.type, s.agreement_id, s.sandbox, s.data, %(now)s
            FROM ({events_sql}) AS s ORDER BY s.agreement_id
            """,  # noqa: S608
    }
    timings = {}
    with connection.cursor() as cursor:
        # Above every seq there is, so (chain, seq) stays unique without chaining.
        cursor.execute("SELECT coalesce(max(seq), 0) FROM affirmations_record")
        [(params["base_seq"],)] = cursor.fetchall()
        cursor.execute("BEGIN")
        # As the sweep's event statement: no JIT for the wide jsonb expression.
        cursor.execute("SET LOCAL jit = off")
        for name, sql in statements.items():
            started = time.monotonic()
            cursor.execute(sql, {**params, **events_params})
            timings[name] = time.monotonic() - started
            timings[f"{name}_rows"] = cursor.rowcount
        # The records' foreign keys are checked at COMMIT (deferred): run the
        # checks the sweep's COMMIT pays, then roll back.
        started = time.monotonic()
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        timings["deferred checks"] = time.monotonic() - started
        cursor.execute("ROLLBACK")
    assert timings["records_rows"] == timings["events_rows"] == timings["agreements_rows"], timings  # noqa: S101
    with connection.cursor() as cursor:
        for table in ("affirmations_agreement", "affirmations_agreementpremise",
                      "affirmations_record", "csp_registry_cspevent"):  # fmt: skip
            cursor.execute(f"VACUUM {table}")
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
        pstats.Stats(profiler).sort_stats("tottime").print_stats(15)
    return swept, elapsed


def _report(count, raw, owed, swept, elapsed):
    raw_total = raw["agreements"] + raw["premises"]
    owed_total = sum(
        owed[k]
        for k in ("premises", "renewals", "agreements", "records", "events", "deferred checks")
    )
    print()
    print(f"{'':<52}{'seconds':>10}{'rows/s':>14}")
    lines = [
        ("raw SQL UPDATE agreements", raw["agreements"]),
        ("raw SQL UPDATE agreements + premises  [floor 1]", raw_total),
        ("  with the rows owed: UPDATE premises", owed["premises"]),
        ("  UPDATE renewals", owed["renewals"]),
        ("  UPDATE agreements", owed["agreements"]),
        ("  INSERT … SELECT records (SQL sha256)", owed["records"]),
        ("  INSERT … SELECT events (event_sql)", owed["events"]),
        ("  deferred foreign-key checks (COMMIT's)", owed["deferred checks"]),
        ("raw SQL UPDATEs + records + events  [floor 2]", owed_total),
        ("agreements_time_out (records + events)", elapsed),
    ]
    for label, seconds in lines:
        print(f"{label:<52}{seconds:>10.2f}{swept / seconds if seconds else 0:>14,.0f}")
    print(f"\nsweep / floor 1 (UPDATE agreements + premises): {elapsed / raw_total:.2f}x")
    print(f"sweep / floor 2 (UPDATEs + record and event rows): {elapsed / owed_total:.2f}x")
    print(f"{swept:,} timed out, {swept:,} records and events written")


if __name__ == "__main__":
    main()
