"""Throughput and latency of POST /api/v1/premise-authentications/ under gunicorn,
next to the floor: a bare DRF endpoint doing one indexed SELECT on the same server.

    DATABASE_URL=postgres://postgres@127.0.0.1:54329/h_csp_bench \\
        .venv/bin/python bench/bench_api.py [--generate 5000] [--requests 4000] [--concurrency 4]

Migrates, seeds (``--generate N``: reference data and N synthetic premises,
both idempotent), issues a benchmark CSP key, then starts gunicorn (2 sync
workers) on a loopback port with DEBUG off and the floor endpoint switched on
(BENCH_FLOOR_ENDPOINT=1). Every request goes to 127.0.0.1 only. The API path
pays for everything the conventions add: rate limits (counters in Redis when
REDIS_URL is set, else per-worker memory), key lookup, the attempt row and
the request-log row. Rate limits are raised so the benchmark measures work,
not refusals.
"""

import argparse
import http.client
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smt_portal.settings")
# The server's settings: production's, the floor mounted, limits out of the way.
SERVER_ENVIRONMENT = {
    "DEBUG": "0",
    "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-" + "x" * 50),
    "SECURE_SSL_REDIRECT": "0",
    "BENCH_FLOOR_ENDPOINT": "1",
    "LOG_LEVEL": "ERROR",
    # Each worker keeps its database connection for the whole run, so the CPU
    # its PostgreSQL backend spends can be read per run (``_cpu``).
    "CONN_MAX_AGE": "3600",
    "API_RATE_LIMIT_PER_IP": "100000000/m",
    "API_RATE_LIMIT_PER_CSP": "100000000/m",
    "API_PREMISE_AUTH_RATE_LIMIT_PER_IP": "100000000/m",
    "API_PREMISE_AUTH_RATE_LIMIT_PER_CSP": "100000000/m",
}
if "--profile" in sys.argv:
    # In process: this process is the server (the test client's host is "testserver").
    os.environ.update(SERVER_ENVIRONMENT, ALLOWED_HOSTS="testserver")

import django  # noqa: E402

django.setup()

from cpu_parts import cpu_line, cpu_parts, cpu_per_request  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402
from lookup_prewarm import lookup_relations_prewarm  # noqa: E402

from csp_registry.services import csp_create_approved, csp_rotate_keys  # noqa: E402
from premises.models import Meter  # noqa: E402

HOST = "127.0.0.1"
AUTHENTICATE = "/api/v1/premise-authentications/"
FLOOR = "/csp/bench-floor/"


def main():
    args = _parse_args()
    if connection.vendor != "postgresql":
        sys.exit("set DATABASE_URL to a PostgreSQL database (the benchmark is for production)")
    call_command("migrate", verbosity=0)
    if args.generate:
        call_command("seed_reference_data", verbosity=0)
        call_command("generate_premises", count=args.generate, no_progress=True, samples=0)
    facts = _facts(random.Random(args.seed), args.requests)
    key = _bench_key()
    lookup_relations_prewarm()
    if args.profile:
        _profile(args.profile, key, facts, args.profile_out)
        return
    port = _free_port()
    server = _start_gunicorn(port)
    try:
        _wait_until_up(port)
        _warm_up(port, key, facts)
        for round_ in range(1, args.rounds + 1):
            # Alternately, so neither pays alone for cold pages or a busy minute.
            floor = _drive(
                port,
                args.concurrency,
                [("GET", f"{FLOOR}?esi_id={f['esi_id']}", None) for f in facts],
                None,
                server.pid,
            )
            api = _drive(
                port, args.concurrency, [("POST", AUTHENTICATE, f) for f in facts], key, server.pid
            )
            print(f"-- round {round_} of {args.rounds}")
            _report(args, floor, api)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


def _parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generate", type=int, default=0, metavar="N")
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=2, help="floor then API, this many times")
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="N",
        help="instead: N requests of each in process (full middleware), timed, then cProfiled",
    )
    parser.add_argument(
        "--profile-out", metavar="PATH", help="with --profile: also save the cProfile (pstats) here"
    )
    return parser.parse_args()


def _facts(rng, count):
    """Half matching triples, half with a wrong meter number, from real premises."""
    rows = list(
        Meter.objects.filter(removed_on__isnull=True)
        .values_list("premise__esi_id", "number", "premise__rep_of_record__certificate_number")
        .order_by("?")[: max(count // 2, 1)]
    )
    if not rows:
        sys.exit("no premises: run with --generate N")
    facts = []
    for index in range(count):
        esi_id, meter, certificate = rows[index % len(rows)]
        if rng.random() < 0.5:
            meter = "X" + meter[1:]
        facts.append(
            {"esi_id": esi_id, "meter_number": meter, "rep_certificate_number": certificate}
        )
    return facts


def _bench_key():
    now = timezone.now()
    csp, _ = csp_create_approved(
        name="Benchmark CSP", email="bench@bench.example", now=now,
        facts={"scope_of_use": "Bench advice.", "scope_of_use_es": "Asesoría de prueba."},
    )  # fmt: skip
    _, key = csp_rotate_keys(csp=csp, now=now, name="bench_api")
    return key


def _free_port():
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def _start_gunicorn(port):
    env = {**os.environ, **SERVER_ENVIRONMENT, "ALLOWED_HOSTS": HOST}
    command = [
        str(ROOT / ".venv" / "bin" / "gunicorn"),
        "smt_portal.wsgi:application",
        "--bind",
        f"{HOST}:{port}",
        "--workers",
        "2",
        "--log-level",
        "error",
    ]
    return subprocess.Popen(command, cwd=ROOT, env=env)


def _wait_until_up(port):
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            status, _ = _request(
                http.client.HTTPConnection(HOST, port, timeout=2), "GET", "/healthz", None, None
            )
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)  # a benchmark harness waiting for a server to bind
    sys.exit("gunicorn did not start")


def _warm_up(port, key, facts):
    connection_ = http.client.HTTPConnection(HOST, port, timeout=10)
    for fact in facts[:50]:
        _request(connection_, "GET", f"{FLOOR}?esi_id={fact['esi_id']}", None, None)
        _request(connection_, "POST", AUTHENTICATE, fact, key)


def _request(conn, method, path, body, key):
    headers = {"Accept": "application/json"}
    if body is not None:
        headers["Content-Type"] = "application/json"
    if key:
        headers["Authorization"] = f"Bearer {key}"
    conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
    response = conn.getresponse()
    response.read()
    return response.status, response


def _drive(port, concurrency, calls, key, server_pid):
    local = threading.local()
    cpu_before = cpu_parts(server_pid)

    def one(call):
        conn = getattr(local, "conn", None) or http.client.HTTPConnection(HOST, port, timeout=30)
        local.conn = conn
        method, path, body = call
        started = time.perf_counter()
        status, _ = _request(conn, method, path, body, key)
        return status, time.perf_counter() - started

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        results = list(pool.map(one, calls))
    elapsed = time.perf_counter() - started
    cpu_after = cpu_parts(server_pid)
    statuses = {status for status, _ in results}
    if statuses != {200}:
        sys.exit(f"unexpected statuses {statuses}")
    latencies = sorted(latency for _, latency in results)
    return {
        "rps": len(results) / elapsed,
        "p50": statistics.median(latencies) * 1000,
        "p99": latencies[int(len(latencies) * 0.99) - 1] * 1000,
        "cpu": cpu_per_request(cpu_before, cpu_after, len(results)),
    }


def _report(args, floor, api):
    premises = Meter.objects.filter(removed_on__isnull=True).count()
    cache = "Redis" if os.environ.get("REDIS_URL") else "per-worker memory"
    print(
        f"PostgreSQL, {premises:,} premises, gunicorn 2 sync workers, {args.concurrency} client "
        f"threads, {args.requests:,} requests each; rate-limit cache: {cache}"
    )
    print(f"{'endpoint':<36}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}")
    for name, figures in (("floor: GET /csp/bench-floor/", floor), (f"POST {AUTHENTICATE}", api)):
        print(f"{name:<36}{figures['rps']:>10.0f}{figures['p50']:>10.2f}{figures['p99']:>10.2f}")
    print("CPU ms per request, by part (Redis: the whole server's):")
    for name, figures in (("floor", floor), ("API", api)):
        print(cpu_line(name, figures["cpu"]))
    print(
        f"ratio API/floor: throughput {api['rps'] / floor['rps']:.2f}x, "
        f"p50 {api['p50'] / floor['p50']:.2f}x, p99 {api['p99'] / floor['p99']:.2f}x"
    )


# --- In process: timing, round trips and cProfile ------------------------------

# Stages of one premise authentication: ms per request, cumulative.
STAGES = [
    ("the whole request (test client, middleware)", "django/test/client.py", "request"),
    ("  API key check (authenticate)", "csp_registry/api/authentication.py", "authenticate"),
    ("  the view's post", "csp_registry/api/views.py", "post"),
    ("    parse + validate the three facts", "rest_framework/serializers.py", "is_valid"),
    ("    rate limits, one script (Redis)", "csp_registry/api/ratelimits.py", "_take"),
    ("    premise_authenticate", "premises/services.py", "premises_authenticate"),
    ("      the lookup (prepared)", "premises/services.py", "_premises_for_authentication"),
    ("  attempt + request log, one statement", "smt_portal/request_writes.py",
     "request_writes_flush"),
    ("psycopg waiting for PostgreSQL (all statements)", "psycopg/connection.py", "wait"),
]  # fmt: skip


def _profile(n, key, facts, out=None):
    """The floor and the portal in process through the test client (the whole
    middleware, DEBUG off), sequential: ms per request, the round trips each
    makes, then a cProfile of the portal by stage."""
    import cProfile
    import pstats

    import redis.connection
    from django.test import Client

    client = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    facts = iter(facts * (1 + (4 * n + 100) // len(facts)))

    def floor():
        fact = next(facts)
        assert client.get(FLOOR, {"esi_id": fact["esi_id"]}).status_code == 200

    def portal():
        response = client.post(AUTHENTICATE, next(facts), content_type="application/json")
        assert response.status_code == 200, response.content

    trips = {"sql": 0, "redis": 0}

    def count_sql(execute, sql, params, many, context):
        trips["sql"] += 1
        return execute(sql, params, many, context)

    send = redis.connection.AbstractConnection.send_packed_command

    def count_redis(self, command, check_health=True):
        trips["redis"] += 1
        return send(self, command, check_health)

    redis.connection.AbstractConnection.send_packed_command = count_redis
    for _ in range(50):
        floor()
        portal()
    print(f"in process, sequential, {n} requests each:")
    for name, call in (("floor", floor), ("portal", portal)):
        trips.update(sql=0, redis=0)
        with connection.execute_wrapper(count_sql):
            started = time.perf_counter()
            for _ in range(n):
                call()
            elapsed = time.perf_counter() - started
        print(
            f"  {name:<7} {elapsed / n * 1000:6.2f} ms/request; round trips per request:"
            f" {trips['sql'] / n:.1f} SQL (besides Django's health check), {trips['redis'] / n:.1f}"
            " Redis"
        )
    redis.connection.AbstractConnection.send_packed_command = send
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(n):
        portal()
    profiler.disable()
    stats = pstats.Stats(profiler)
    if out:
        stats.dump_stats(out)
    print(f"cProfile of {n} portal requests (it about doubles Python's share): ms per request")
    for label, path, name in STAGES:
        total = sum(
            value[3]
            for (file, _, function), value in stats.stats.items()
            if file.endswith(path) and function == name
        )
        print(f"  {label:<52}{total / n * 1000:7.2f}")
    print("top 15 functions by own time:")
    stats.sort_stats("tottime").print_stats(15)


if __name__ == "__main__":
    main()
