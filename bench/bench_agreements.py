"""Agreement creations per second through the API (gunicorn, PostgreSQL), next to its floor.

    DATABASE_URL=postgres://postgres@127.0.0.1:54329/h_agree_api_bench \\
    REDIS_URL=redis://127.0.0.1:63799/5 \\
        .venv/bin/python bench/bench_agreements.py [--requests 2000] [--concurrency 8] \\
            [--workers 5] [--premises-per-agreement 1] [--csps 1]

Starts gunicorn on the portal (production settings: DEBUG off), then times
with the same client and concurrency, in this order:

1. the read floor: ``GET /csp/bench-floor/`` — DRF and one indexed SELECT;
2. the floor: ``POST /bench-floor/agreements/`` (affirmations/api/bench_floor.py)
   — a plain Django view doing the same essential writes in one transaction
   with bare SQL: the key's SELECT, the premises' authentication SELECT, then
   the authentication attempts, the agreement, its premises, the link token,
   the outbox email, the request log row and two records on the CSP's chain;
3. ``POST /api/v1/agreements/`` — key check, rate limits, request log,
   authentication of every premise (recorded), term rules, duplicate check,
   the agreement, its premises, link, outbox email and two chained records,
   one transaction; the email's publish to the broker after commit.

Every request names premises not yet requested (the floor and the portal
use different ones), so each one creates an agreement (201). ``--csps N``
spreads the requests over N providers' keys (the record has one chain per
CSP, modulo 16). Rate limits are raised for the run; nothing else differs
from production. The client runs on the same machine as the server.
"""

import argparse
import http.client
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smt_portal.settings")
HOST = "127.0.0.1"
# The server's settings (production's, rate limits raised, the floor mounted):
# gunicorn gets them, and so does this process when it profiles in process.
SERVER_ENV = {
    "DEBUG": "false",
    "SECRET_KEY": "bench-" + "x" * 50,
    "ALLOWED_HOSTS": f"{HOST},testserver",
    "SECURE_SSL_REDIRECT": "false",
    "BENCH_FLOOR_ENDPOINT": "true",
    "API_RATE_LIMIT_PER_IP": "100000000/m",
    "API_RATE_LIMIT_PER_CSP": "100000000/m",
    "API_PREMISE_AUTH_RATE_LIMIT_PER_IP": "100000000/h",
    "API_PREMISE_AUTH_RATE_LIMIT_PER_CSP": "100000000/h",
    "LOG_LEVEL": "WARNING",
    # Each worker keeps its connection for the run, so its backend's CPU can be read.
    "CONN_MAX_AGE": "3600",
}
if "--profile" in sys.argv:
    os.environ.update(SERVER_ENV)

import django  # noqa: E402

django.setup()

from cpu_parts import cpu_line, cpu_parts, cpu_per_request  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.db.models import OuterRef, Subquery  # noqa: E402
from django.utils import timezone  # noqa: E402

from affirmations.models import AgreementPremise  # noqa: E402
from csp_registry.services import csp_create_approved, csp_issue_key  # noqa: E402
from premises.models import Meter, Premise  # noqa: E402

API = "/api/v1/agreements/"
FLOOR = "/bench-floor/agreements/"


def main():
    args = _parse_args()
    if connection.vendor != "postgresql":
        sys.exit("run on PostgreSQL (DATABASE_URL=postgres://…)")
    if args.profile:
        args.requests = 3 * args.profile + 2 * WARM_UP
    premises = _prepare(args)
    keys = [_new_key() for _ in range(args.csps)]
    groups = _groups(premises, args.premises_per_agreement)
    if args.profile:
        _profile(args, keys, groups)
        return
    half = len(groups) // 2
    floor_groups, portal_groups = groups[:half], groups[half:]
    # Each worker's first creations import and compile what creating needs
    # (modules, templates, translations, the broker's connection): production's
    # workers live long, so these are made first and not counted, on both paths.
    warm = min(SERVER_WARM_UP, half // 10)
    floor_warm, floor_groups = floor_groups[:warm], floor_groups[warm:]
    portal_warm, portal_groups = portal_groups[:warm], portal_groups[warm:][: len(floor_groups)]
    half = len(floor_groups)
    server = _start_gunicorn(args)
    try:
        read = _run(args, lambda i: _floor_request(premises[i][0]), args.requests)
        _run(args, lambda i: _create_request(keys[i % len(keys)], floor_warm[i], FLOOR), warm)
        _run(args, lambda i: _create_request(keys[i % len(keys)], portal_warm[i]), warm)
        before = cpu_parts(server.pid)
        floor = _run(
            args, lambda i: _create_request(keys[i % len(keys)], floor_groups[i], FLOOR), half
        )
        middle = cpu_parts(server.pid)
        created = _run(args, lambda i: _create_request(keys[i % len(keys)], portal_groups[i]), half)
        after = cpu_parts(server.pid)
    finally:
        _stop(server)
    _report(args, read, floor, created)
    print("CPU ms per creation, by part (Redis: the whole server's):")
    print(cpu_line("floor", cpu_per_request(before, middle, half)))
    print(cpu_line("portal", cpu_per_request(middle, after, half)))


def _parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="agreements to create")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", type=int, default=5)
    parser.add_argument("--premises-per-agreement", type=int, default=1)
    parser.add_argument("--csps", type=int, default=1, help="providers (keys) to spread over")
    parser.add_argument("--port", type=int, default=8791)
    parser.add_argument(
        "--profile",
        type=int,
        metavar="N",
        help="instead: in process, N sequential creations on floor and portal, then cProfile",
    )
    return parser.parse_args()


def _prepare(args):
    """Premises no agreement has asked for yet: ``(esi_id, meter, certificate)``."""
    needed = 2 * args.requests * args.premises_per_agreement  # the floor's and the portal's
    call_command("migrate", verbosity=0)
    call_command("seed_reference_data", stdout=open(os.devnull, "w"))  # noqa: SIM115
    taken = AgreementPremise.objects.count()
    if Premise.objects.filter(sandbox=False).count() < taken + needed:
        call_command("generate_premises", count=taken + needed, no_progress=True, samples=0)
    meter = Meter.objects.filter(premise=OuterRef("pk"), removed_on=None).values("number")[:1]
    rows = (
        Premise.objects.filter(
            sandbox=False
        )  # the seeded sandbox premises answer only sandbox keys
        .exclude(pk__in=AgreementPremise.objects.values("premise_id"))
        .annotate(meter=Subquery(meter))
        .order_by("pk")
        .values_list("esi_id", "meter", "rep_of_record__certificate_number")[:needed]
    )
    return list(rows)


def _new_key():
    now = timezone.now()
    email = f"bench-{now:%Y%m%d%H%M%S%f}@example.com"
    csp, _ = csp_create_approved(
        name="Bench Advice", email=email, now=now,
        facts={"scope_of_use": "Bench advice.", "scope_of_use_es": "Asesoría de prueba."},
    )  # fmt: skip
    _, key = csp_issue_key(csp=csp, now=now, name="bench")
    return key


def _start_gunicorn(args):
    env = {**os.environ, **SERVER_ENV}
    command = [
        str(ROOT / ".venv/bin/gunicorn"), "smt_portal.wsgi:application",
        "--workers", str(args.workers), "--bind", f"{HOST}:{args.port}",
        "--log-level", "warning", "--backlog", "2048",
    ]  # fmt: skip
    server = subprocess.Popen(command, cwd=ROOT, env=env)
    for _ in range(200):
        try:
            if _request("GET", "/healthz", port=args.port)[0] in (200, 503):
                return server
        except OSError:
            time.sleep(0.1)
    _stop(server)
    sys.exit("gunicorn did not start")


def _stop(server):
    server.send_signal(signal.SIGTERM)
    server.wait(timeout=30)


_PORT = {}


def _request(method, path, body=None, headers=None, port=None):
    port = port or _PORT["port"]
    conn = http.client.HTTPConnection(HOST, port, timeout=60)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def _floor_request(esi_id):
    return _request("GET", f"/csp/bench-floor/?esi_id={esi_id}")


def _groups(premises, size):
    return [premises[i : i + size] for i in range(0, len(premises) - size + 1, size)]


def _create_request(key, group, path=API):
    body = {
        "premises": [
            {"esi_id": e, "meter_number": m, "rep_certificate_number": c} for e, m, c in group
        ],
        "customer_email": "customer@example.com",
        "term_months": 12,
    }
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    return _request("POST", path, json.dumps(body), headers)


def _run(args, call, count):
    """``count`` calls at the given concurrency: (seconds, latencies, statuses)."""
    _PORT["port"] = args.port

    def timed(index):
        started = time.perf_counter()
        status, _ = call(index)
        return status, time.perf_counter() - started

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=args.concurrency) as pool:
        results = list(pool.map(timed, range(count)))
    elapsed = time.perf_counter() - started
    statuses = {}
    for status, _ in results:
        statuses[status] = statuses.get(status, 0) + 1
    return elapsed, sorted(latency for _, latency in results), statuses


def _line(name, result):
    elapsed, latencies, statuses = result
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000
    rate = len(latencies) / elapsed
    print(f"{name:<56}{len(latencies):>8}{rate:>10.0f}{p50:>10.1f}{p99:>10.1f}  {statuses}")
    return rate


def _report(args, read, floor, created):
    print(
        f"\ngunicorn {args.workers} sync workers, {args.concurrency} concurrent clients, "
        f"{os.cpu_count()} CPUs shared with the client and PostgreSQL"
    )
    print(f"{'':<56}{'requests':>8}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}  statuses")
    _line("read floor GET /csp/bench-floor/", read)
    premises = f"({args.premises_per_agreement} premise, {args.csps} CSP)"
    floor_rate = _line(f"floor POST {FLOOR}", floor)
    create_rate = _line(f"POST {API} {premises}", created)
    print(f"\nagreement creation: {create_rate / floor_rate:.2f}x the floor's throughput")


# Creations through each path, before the figures, to warm gunicorn's workers.
SERVER_WARM_UP = 100

# --- In process: timing and cProfile ------------------------------------------------

WARM_UP = 20
# Stages of a creation, by (file suffix, function): milliseconds per request,
# cumulative (a stage includes the stages it calls).
STAGES = [
    ("the whole request (test client, middleware)", "django/test/client.py", "request"),
    ("the view's post (DRF dispatch inside)", "affirmations/api/views.py", "post"),
    ("  parse + validate (AgreementCreateInput)", "rest_framework/serializers.py", "is_valid"),
    ("  premise-check budget (Redis)", "csp_registry/api/ratelimits.py", "premise_checks_consume"),
    (
        "  agreement_request (the service)",
        "affirmations/lifecycle/requests.py",
        "agreement_request",
    ),
    ("    term policy + holidays", "affirmations/lifecycle/requests.py", "_staff_set_rows"),
    ("    premises_authenticate", "premises/services.py", "premises_authenticate"),
    (
        "    lock + duplicates",
        "affirmations/lifecycle/requests.py",
        "_lock_csp_and_refuse_duplicates",
    ),
    ("    request guards (cooldown)", "affirmations/lifecycle/requests.py", "_run_request_guards"),
    # _agreement_create: before H35 the agreement and its premises by the ORM
    # (then _announce_request: link, email, records); after, all four tables'
    # rows in one INSERT.
    (
        "    _agreement_create (after: + link, email)",
        "affirmations/lifecycle/requests.py",
        "_agreement_create",
    ),
    (
        "    link, email, records (before H35)",
        "affirmations/lifecycle/requests.py",
        "_announce_request",
    ),
    ("      link_create", "affirmations/lifecycle/links.py", "link_create"),
    ("      the email (email_queue)", "outbox/services.py", "email_queue"),
    ("      the email built (email_build)", "outbox/services.py", "email_build"),
    ("      the one INSERT (rows_insert)", "affirmations/lifecycle/requests.py", "rows_insert"),
    ("    the email's templates (email_render)", "outbox/services.py", "email_render"),
    ("    records_append_many", "affirmations/records.py", "records_append_many"),
    ("    commit (atomic's __exit__, on_commit run)", "django/db/transaction.py", "__exit__"),
    ("      on-commit callbacks", "django/db/backends/base/base.py", "run_and_clear_commit_hooks"),
    ("        broker publish (_publish_send)", "outbox/services.py", "_publish_send"),
    ("  the answer (AgreementOutput)", "affirmations/api/serializers.py", "to_representation"),
    ("  idempotency wrapper", "csp_registry/api/idempotency.py", "wrapper"),
    ("API key check (authenticate)", "csp_registry/api/authentication.py", "authenticate"),
    ("request log (middleware)", "csp_registry/api/middleware.py", "__call__"),
    ("psycopg waiting for the server (all statements)", "psycopg/connection.py", "wait"),
]


def _profile(args, keys, groups):
    import cProfile
    import pstats

    from django.db import connection
    from django.test import Client

    client = Client()
    headers = {"HTTP_AUTHORIZATION": f"Bearer {keys[0]}"}
    groups = iter(groups)

    def post(path):
        group = next(groups)
        body = {
            "premises": [
                {"esi_id": e, "meter_number": m, "rep_certificate_number": c} for e, m, c in group
            ],
            "customer_email": "customer@example.com",
            "term_months": 12,
        }
        response = client.post(path, body, content_type="application/json", **headers)
        if response.status_code != 201 and not (path == FLOOR and response.status_code == 200):
            sys.exit(f"{path}: {response.status_code} {response.content[:300]!r}")

    sql = [0.0]
    statements = {}

    def timed_sql(execute, sql_text, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql_text, params, many, context)
        finally:
            spent = time.perf_counter() - started
            sql[0] += spent
            kind = " ".join(sql_text.split())[:70]
            count, total = statements.get(kind, (0, 0.0))
            statements[kind] = (count + 1, total + spent)

    for _ in range(WARM_UP):
        post(FLOOR)
        post(API)
    n = args.profile
    print(f"in process, sequential, {n} creations each ({args.premises_per_agreement} premise):")
    for path in (FLOOR, API):
        sql[0] = 0.0
        statements.clear()  # the last path's (the portal's) stay for the table below
        with connection.execute_wrapper(timed_sql):
            started = time.perf_counter()
            for _ in range(n):
                post(path)
            elapsed = time.perf_counter() - started
        print(
            f"  {path:<28} {elapsed / n * 1000:6.2f} ms/request,"
            f" {sql[0] / n * 1000:5.2f} ms of it inside SQL statements"
        )
    print("  the portal's statements (per request: count, ms; BEGIN and COMMIT not seen here):")
    for kind, (count, total) in sorted(statements.items(), key=lambda item: -item[1][1]):
        print(f"    {count / n:4.1f} {total / n * 1000:6.2f}  {kind}")
    _wall_clock_by_stage(n, lambda: post(API))
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(n):
        post(API)
    profiler.disable()
    stats = pstats.Stats(profiler)
    print(f"\ncProfile of {n} portal creations: ms per request, cumulative")
    for label, path, name in STAGES:
        total = sum(
            value[3]
            for (file, _, function), value in stats.stats.items()
            if file.endswith(path) and function == name
        )
        if total:  # a stage the code run does not have (before or after H35) is left out
            print(f"  {label:<52}{total / n * 1000:7.2f}")
    print("\ntop 25 functions by own time:")
    stats.sort_stats("tottime").print_stats(25)
    if os.environ.get("BENCH_PROFILE_DUMP"):
        stats.dump_stats(os.environ["BENCH_PROFILE_DUMP"])


def _wall_clock_by_stage(n, post):
    """N more creations with the module-level functions of ``STAGES`` timed by
    ``perf_counter`` (no profiler: cProfile inflates call-heavy code such as
    template rendering several times over). Cumulative ms per request."""
    import functools
    import importlib
    import types

    spent = {}
    patched = []  # (owner, name, original)
    for label, path, name in STAGES:
        if "site-packages" in path or not path.endswith(".py"):
            continue
        try:
            module = importlib.import_module(path[:-3].replace("/", "."))
        except ImportError:
            continue
        original = getattr(module, name, None)
        if not isinstance(original, types.FunctionType):
            continue  # a method or absent in this tree: cProfile's table has it
        spent[label] = 0.0

        def timed(*args, _original=original, _label=label, **kwargs):
            started = time.perf_counter()
            try:
                return _original(*args, **kwargs)
            finally:
                spent[_label] += time.perf_counter() - started

        functools.update_wrapper(timed, original)
        # Every module that imported the function by name calls it through its own global.
        for owner in list(sys.modules.values()):
            if getattr(owner, name, None) is original:
                patched.append((owner, name, original))
                setattr(owner, name, timed)
    try:
        started = time.perf_counter()
        for _ in range(n):
            post()
        elapsed = time.perf_counter() - started
    finally:
        for owner, name, original in reversed(patched):
            setattr(owner, name, original)
    print(f"\nwall clock by stage, {n} more portal creations (no profiler; ms per request):")
    print(f"  {'the whole request':<52}{elapsed / n * 1000:7.2f}")
    for label, total in spent.items():
        print(f"  {label:<52}{total / n * 1000:7.2f}")


if __name__ == "__main__":
    main()
