"""Every detector over a big API log and many decisions, next to raw SQL aggregates.

    DATABASE_URL=postgres://postgres@127.0.0.1:54329/h_mon_bench \\
        .venv/bin/python bench/bench_detectors.py [--api-rows 10000000] [--decisions 1000000]

Recreates the database (records cannot be deleted, so a re-run starts
fresh), then loads with ``generate_series``, spread over 30 days before now:

- ``--decisions`` agreements of 200 CSPs, each with its request record and
  one decision record (70 % opt-in, 15 % opt-out, 3 % spam, 12 % time-out),
  one premise each, customer IPs drawn from a large space;
- ``--api-rows`` API log rows (data reads, requests, authentications;
  a few refused, forged or from outside registered ranges);
- one tenth of that in premise authentication attempts.

Then times each detector as the 15-minute job runs it (the window containing
now and the one before), and each over the whole 30 days (the worst case a
staff member gets by widening a window), next to hand-written SQL that
computes the same aggregate for the two biggest: the IP-falsification counts
and the data-without-authorisation join over the API log.
"""

import argparse
import os
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
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from monitoring.detectors import DETECTORS, Window  # noqa: E402
from monitoring.services import detectors_run  # noqa: E402

CSPS = 200
PREMISES = 20_000
SPAN = timedelta(days=30)


def main():
    args = _parse_args()
    if connection.vendor != "postgresql":
        sys.exit("run on PostgreSQL (DATABASE_URL=postgres://…)")
    _recreate_database()
    call_command("migrate", verbosity=0)
    call_command("seed_reference_data", stdout=open(os.devnull, "w"))  # noqa: SIM115
    now = timezone.now()
    _load(args, now)
    print(f"PostgreSQL {connection.pg_version}: {args.api_rows:,} API log rows, "
          f"{args.decisions:,} decisions, {args.api_rows // 10:,} attempts")  # fmt: skip
    _time_job(now)
    _time_wide(now)
    _time_raw(now)


def _parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--api-rows", type=int, default=10_000_000)
    parser.add_argument("--decisions", type=int, default=1_000_000)
    return parser.parse_args()


def _recreate_database():
    name = connection.settings_dict["NAME"]
    connection.close()
    url = urlsplit(os.environ["DATABASE_URL"])
    import psycopg

    with psycopg.connect(f"{url.scheme}://{url.netloc}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')


def _step(label, sql, params=()):
    started = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
    print(f"  {label:<40}{time.monotonic() - started:>8.1f}s")


def _load(args, now):
    print("loading:")
    start = now - SPAN
    seconds = int(SPAN.total_seconds())
    call_command("generate_premises", count=PREMISES, no_progress=True, samples=0)
    _step("CSPs", """
        INSERT INTO csp_registry_csp (legal_name, dba_name, duns_number, puct_registration_number,
            contact_name, contact_email, contact_phone, notice_email, mailing_address,
            website_url, privacy_policy_url, scope_of_use, scope_of_use_es, registered_ip_ranges,
            status,
            status_changed_at, created_at)
        SELECT 'Bench CSP ' || g, '', '000000000', '', 'Bench', 'ops@csp' || g || '.example',
               '', 'legal@csp' || g || '.example', '-', '', 'https://example.com/p', 'bench',
               'bench',
               CASE WHEN g %% 10 = 0 THEN '10.' || g || '.0.0/16' ELSE '' END,
               'active', %s, %s
        FROM generate_series(1, %s) g""", [start, start, CSPS])  # fmt: skip
    _load_agreements(args.decisions, start, seconds)
    _load_records(start)
    _load_api_log(args.api_rows, start, seconds)
    _load_attempts(args.api_rows // 10, start, seconds)
    _step("VACUUM ANALYZE", "VACUUM ANALYZE")


def _load_agreements(count, start, seconds):
    _step("agreements", """
        INSERT INTO affirmations_agreement (csp_id, status, customer_email, language,
            term_months, max_term_months, confirmation_code, created_at, affirmation_sent_at,
            affirmation_expires_at, decided_at, affirmed_at, term_start, term_end,
            renewal_count, ended_at, ended_by, end_reason)
        SELECT c.id, o.status, 'c' || g || '@example.com', 'en', 12, 12, 'BENCH', t, t,
               t + interval '7 days', t + o.delay,
               CASE WHEN o.status = 'active' THEN t + o.delay END,
               CASE WHEN o.status = 'active' THEN t + o.delay END,
               CASE WHEN o.status = 'active' THEN t + o.delay + interval '1 year' END,
               0, CASE WHEN o.status <> 'active' THEN t + o.delay END, '', ''
        FROM generate_series(1, %s) g
        CROSS JOIN LATERAL (
            SELECT %s::timestamptz + (g::bigint * 7919 %% %s) * interval '1 second' AS t,
                   g %% 100 AS bucket) s
        CROSS JOIN LATERAL (SELECT CASE WHEN s.bucket < 70 THEN 'active'
                                        WHEN s.bucket < 85 THEN 'opted_out'
                                        WHEN s.bucket < 88 THEN 'reported_spam'
                                        ELSE 'timed_out' END AS status,
                                   CASE WHEN s.bucket >= 88 THEN interval '7 days'
                                        ELSE (60 + g %% 86400) * interval '1 second' END AS delay
                           ) o
        JOIN (SELECT id, row_number() OVER (ORDER BY id) - 1 AS k FROM csp_registry_csp) c
          ON c.k = g %% %s""", [count, start, seconds, CSPS])  # fmt: skip
    _step("agreement premises", """
        INSERT INTO affirmations_agreementpremise (agreement_id, premise_id, csp_id, esi_id,
            service_address, large_commercial, is_open)
        SELECT a.id, p.id, a.csp_id, p.esi_id, '', false, false
        FROM affirmations_agreement a
        JOIN (SELECT id, esi_id, row_number() OVER (ORDER BY id) - 1 AS k
              FROM premises_premise) p ON p.k = a.id %% %s""", [PREMISES])  # fmt: skip


def _load_records(start):
    # Hashes are stand-ins (unique, not chained, on no real chain: -1): the detectors never
    # read them.
    _step("records (request + decision)", """
        INSERT INTO affirmations_record (created_at, event, agreement_id, csp_id, actor_type,
            actor, ip, user_agent, details, previous_hash, hash, chain, seq, hash_version)
        SELECT r.at, r.event, a.id, a.csp_id, r.actor_type, '', r.ip, '', '{}', '',
               encode(sha256((a.id || ':' || r.event)::bytea), 'hex'),
               -1, a.id * 2 + (r.event <> 'request_created')::int, 2
        FROM affirmations_agreement a
        CROSS JOIN LATERAL (VALUES
            (a.created_at, 'request_created', 'csp', NULL::inet),
            (a.decided_at,
             CASE a.status WHEN 'active' THEN 'opted_in' ELSE a.status END,
             CASE WHEN a.status = 'timed_out' THEN 'system' ELSE 'customer' END,
             CASE WHEN a.status = 'timed_out' THEN NULL
                  ELSE ('100.' || (a.id * 31 %% 250) || '.' || (a.id * 17 %% 250) || '.'
                        || (a.id %% 250))::inet END)
        ) r(at, event, actor_type, ip)""")  # fmt: skip


def _load_api_log(count, start, seconds):
    _step("API log", """
        INSERT INTO csp_registry_apirequestlog (csp_id, key_prefix, ip,
            forwarded_header_untrusted, method, path, status_code, error_code, duration_ms,
            created_at)
        SELECT c.id, 'abcd1234', ('192.0.' || (c.k %% 250) || '.' || (g %% 4))::inet,
               g %% 5000 = 0, CASE WHEN g %% 10 < 6 THEN 'GET' ELSE 'POST' END,
               -- Agreement ids follow their CSP round-robin (id %% CSPS = the
               -- CSP's rank), so most reads name one of the caller's own agreements.
               CASE WHEN g %% 10 < 6 THEN '/api/v1/agreements/'
                                          || (%s * ((g / %s) %% (%s / %s)) + c.k + 1)
                                          || '/interval-data/'
                    WHEN g %% 10 < 8 THEN '/api/v1/agreements/'
                    ELSE '/api/v1/premise-authentications/' END,
               CASE WHEN g %% 2000 = 0 THEN 403 WHEN g %% 97 = 0 THEN 409 ELSE 200 END,
               CASE WHEN g %% 2000 = 0 THEN 'ip_not_registered'
                    WHEN g %% 97 = 0 THEN 'agreement_not_active' ELSE '' END,
               5, %s::timestamptz + (g::bigint * 7919 %% %s) * interval '1 second'
        FROM generate_series(1, %s) g
        JOIN (SELECT id, row_number() OVER (ORDER BY id) - 1 AS k FROM csp_registry_csp) c
          ON c.k = g %% %s""",
          [CSPS, CSPS, _agreements(), CSPS, start, seconds, count, CSPS])  # fmt: skip


def _agreements():
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM affirmations_agreement")
        return cursor.fetchone()[0]


def _load_attempts(count, start, seconds):
    _step("authentication attempts", """
        INSERT INTO monitoring_premiseauthenticationattempt (created_at, csp_id, ip, esi_id,
            meter_number, rep_certificate_number, authenticated, failure_reason)
        SELECT %s::timestamptz + (g::bigint * 7919 %% %s) * interval '1 second', c.id,
               ('192.0.' || (c.k %% 250) || '.1')::inet,
               '1044372' || lpad((g %% 10000000)::text, 10, '0'), '123456789', '10004',
               g %% 5 <> 0, CASE WHEN g %% 5 = 0 THEN 'unknown_esi_id' ELSE '' END
        FROM generate_series(1, %s) g
        JOIN (SELECT id, row_number() OVER (ORDER BY id) - 1 AS k FROM csp_registry_csp) c
          ON c.k = g %% %s""", [start, seconds, count, CSPS])  # fmt: skip


def _timed(function):
    started = time.monotonic()
    result = function()
    return time.monotonic() - started, result


def _time_job(now):
    print("\nas the 15-minute job runs them (window containing now + the one before):")
    print(f"  {'detector':<32}{'window':>10}{'seconds':>10}{'findings':>10}")
    total = 0.0
    for name, detector in DETECTORS.items():
        current = Window.containing(now, detector.window)
        elapsed, found = _timed(lambda d=detector, w=current: (
            d.find(w.previous(), d.thresholds) + d.find(w, d.thresholds)))  # fmt: skip
        total += elapsed
        print(f"  {name:<32}{str(detector.window):>10}{elapsed:>10.3f}{len(found):>10}")
    elapsed, counts = _timed(lambda: detectors_run(now=now))
    opened = sum(c["opened"] for c in counts.values())
    print(f"  {'detectors_run (all, with flags)':<42}{elapsed:>10.3f}  flags opened: {opened}")


def _time_wide(now):
    print("\neach over the whole 30 days (worst case):")
    wide = Window(now - SPAN - timedelta(hours=1), now + timedelta(hours=1))
    for name, detector in DETECTORS.items():
        elapsed, found = _timed(lambda d=detector: d.find(wide, d.thresholds))
        print(f"  {name:<42}{elapsed:>10.3f}{len(found):>10}")
    return wide


def _time_raw(now):
    wide = (now - SPAN - timedelta(hours=1), now + timedelta(hours=1))
    print("\nraw SQL, same 30 days:")
    _raw("ip_falsification aggregate", """
        SELECT csp_id, count(*) FILTER (WHERE error_code = 'ip_not_registered'),
               count(*) FILTER (WHERE forwarded_header_untrusted)
        FROM csp_registry_apirequestlog
        WHERE csp_id IS NOT NULL AND created_at >= %s AND created_at < %s
        GROUP BY csp_id""", wide)  # fmt: skip
    _raw("data_without_authorisation join", """
        SELECT l.csp_id, count(*) FILTER (WHERE l.status_code < 300),
               count(*) FILTER (WHERE l.status_code >= 300)
        FROM (SELECT csp_id, created_at, status_code, split_part(path, '/', 5)::bigint AS ref
              FROM csp_registry_apirequestlog
              WHERE csp_id IS NOT NULL AND created_at >= %s AND created_at < %s
                AND path LIKE '/api/v1/agreements/%%/interval-data/') l
        LEFT JOIN affirmations_agreement a ON a.id = l.ref
        WHERE a.id IS NULL OR a.csp_id <> l.csp_id OR a.term_start IS NULL
              OR a.term_start > l.created_at OR a.ended_at <= l.created_at
        GROUP BY l.csp_id""", wide)  # fmt: skip
    _raw("count(*) of the API log in the window", """
        SELECT count(*) FROM csp_registry_apirequestlog
        WHERE created_at >= %s AND created_at < %s""", wide)  # fmt: skip


def _raw(label, sql, params):
    started = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    print(f"  {label:<42}{time.monotonic() - started:>10.3f}{len(rows):>10}")


if __name__ == "__main__":
    main()
