"""The fault battery: the portal run production-like on loopback, faults injected under load.

    .venv/bin/python bench/faults/battery.py [--agreements 200] [--scenarios a,b,c]
        [--budget-seconds 900] [--scenario-cap 360] [--quick] [--base-port 55400]

Sets up its own PostgreSQL cluster (fsync on), its own Redis (AOF on) and an
SMTP sink in this process, then the portal as compose runs it: gunicorn,
a Celery worker and beat (each under ``bin/supervise``), ``DEBUG=false``.
Each scenario creates ``--agreements`` agreements through the API from
8 client threads, each request with its own Idempotency-Key; a client that
gets a 503, a 5xx or a connection error sends the same request with the same
key again after ``Retry-After`` (as a good CSP client does). While the load
runs, the scenario's fault is injected; then the battery waits until every
agreement's affirmation email was delivered to the sink or refused by it,
reading the outbox from the database and the Message-IDs the sink received.
The relay that retries is beat's, every 60 s as in production (only
``run_jobs_race`` runs ``manage.py run_jobs`` itself).

One table at the end, one row per scenario: HTTP requests sent (retries
included), 201s, 503s, other 5xx (500 must be 0), agreements created,
emails delivered (unique Message-IDs at the sink), duplicates (copies of a
Message-ID already received), refused (5xx from the sink: expected
failures), lost (an agreement whose email was neither delivered nor
refused), stuck (outbox rows still pending or sending at the end), seconds
from the first request to full delivery, worker and beat restarts by the
supervisor, and how often ``/healthz/ready`` answered 503 meanwhile. Then
``manage.py verify_records``.

Bounded: a global budget, a cap per scenario; loopback only; everything it
started is stopped and its temporary folder removed on exit, Ctrl-C included.
"""

import argparse
import http.client
import json
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import psycopg  # noqa: E402
from lab import (  # noqa: E402
    HOST,
    ROOT,
    Portal,
    Postgres,
    Redis,
    SmtpSink,
    check_ports_free,
    snapshot_head,
)

EMAIL_TIMEOUT = 10  # seconds per SMTP operation; the claim lease is 6x this
WORKER_CONCURRENCY = 4
MESSAGE_ID = re.compile(r"<outbox\.(\d+)\.")
GIVE_UP_SECONDS = 240  # a client stops retrying one request after this


# --- Load -------------------------------------------------------------------


@dataclass
class Item:
    esi_id: str
    meter: str
    certificate: str
    email: str
    language: str


class Load(threading.Thread):
    """``threads`` clients creating one agreement per item, retrying as a good client does.

    ``twice``: every request is sent twice at the same moment, same key and
    body (a client that retried too early), to prove one agreement results.
    """

    def __init__(self, *, port, key, items, threads=8, twice=False):
        super().__init__(daemon=True)
        self.port = port
        self.key = key
        self.items = items
        self.threads = threads
        self.twice = twice
        self.lock = threading.Lock()
        self.statuses = Counter()
        self.connection_errors = 0
        self.gave_up = 0
        self.ids = set()
        self.done = 0
        self.started = None
        self.finished = None

    @property
    def total(self):
        return len(self.items) * (2 if self.twice else 1)

    def progress(self):
        return self.done / max(self.total, 1)

    def run(self):
        self.started = time.monotonic()
        jobs = []
        for item in self.items:
            key = str(uuid.uuid4())
            jobs.extend([(item, key)] * (2 if self.twice else 1))
        with ThreadPoolExecutor(max_workers=self.threads) as pool:
            list(pool.map(lambda job: self._create(*job), jobs))
        self.finished = time.monotonic()

    def _create(self, item, key):
        body = json.dumps(
            {
                "premises": [
                    {
                        "esi_id": item.esi_id,
                        "meter_number": item.meter,
                        "rep_certificate_number": item.certificate,
                    }
                ],
                "customer_email": item.email,
                "term_months": 12,
                "language": item.language,
            }
        )
        headers = {
            "Authorization": f"Bearer {self.key}",
            "Content-Type": "application/json",
            "Idempotency-Key": key,
        }
        give_up = time.monotonic() + GIVE_UP_SECONDS
        try:
            while True:
                try:
                    status, reply, retry_after = _http(
                        self.port, "POST", "/api/v1/agreements/", body, headers
                    )
                except OSError:
                    with self.lock:
                        self.connection_errors += 1
                    wait = 1.0
                else:
                    with self.lock:
                        self.statuses[status] += 1
                    if status == 201:
                        with self.lock:
                            self.ids.add(json.loads(reply)["id"])
                        return
                    if status not in (429,) and status < 500:
                        return  # refused for good: counted by status
                    wait = float(retry_after or (2 if status >= 500 else 1))
                if time.monotonic() + wait > give_up:
                    with self.lock:
                        self.gave_up += 1
                    return
                time.sleep(wait)
        finally:
            with self.lock:
                self.done += 1


def _http(port, method, path, body=None, headers=None, timeout=60):
    connection = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read(), response.getheader("Retry-After")
    finally:
        connection.close()


class ReadyProbe(threading.Thread):
    """Asks ``/healthz/ready`` every second; the scenario reads its counts."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port = port
        self.stopping = threading.Event()
        self.statuses = Counter()

    def run(self):
        while not self.stopping.wait(1.0):
            try:
                status, _, _ = _http(self.port, "GET", "/healthz/ready", timeout=10)
            except OSError:
                status = "conn"
            self.statuses[status] += 1

    def take(self):
        counts, self.statuses = self.statuses, Counter()
        return counts


# --- Outcome ----------------------------------------------------------------


@dataclass
class Row:
    name: str
    requests: int = 0
    created_201: int = 0
    unavailable_503: int = 0
    other_5xx: int = 0
    status_500: int = 0
    other_4xx: int = 0
    connection_errors: int = 0
    gave_up: int = 0
    agreements: int = 0
    delivered: int = 0
    duplicates: int = 0
    duplicates_allowed: int = 0
    refused: int = 0
    lost: int = 0
    stuck: int = 0
    full_delivery: float | None = None
    worker_restarts: int = 0
    beat_restarts: int = 0
    ready_503: int = 0
    notes: list = field(default_factory=list)
    skipped: str = ""


class Battery:
    def __init__(self, args):
        self.args = args
        self.deadline = time.monotonic() + args.budget_seconds
        self.work = Path(tempfile.mkdtemp(prefix="smt-fault-battery-"))
        base = args.base_port
        self.ports = {"pg": base, "redis": base + 1, "smtp": base + 2, "web": base + 3}
        self.pg = Postgres(self.ports["pg"], self.work)
        self.redis = Redis(self.ports["redis"], self.work)
        self.sink = SmtpSink(self.ports["smtp"])
        self.portal = None
        self.probe = None
        self.pool = []
        self.key = None
        self.rows = []
        self.code = "?"

    # --- set-up ---------------------------------------------------------------

    def setup(self, premises_needed):
        check_ports_free(*self.ports.values())
        started = time.monotonic()
        self.pg.init()
        self.pg.start()
        self.pg.create_database("portal")
        self.redis.start()
        self.sink.up()
        env = {
            "PATH": f"{ROOT / '.venv' / 'bin'}:/usr/local/bin:/usr/bin:/bin",
            "HOME": str(self.work),
            "LANG": "C.UTF-8",
            "DATABASE_URL": self.pg.url("portal"),
            "REDIS_URL": self.redis.url(0),
            "EMAIL_URL": f"smtp://{HOST}:{self.ports['smtp']}",
            "EMAIL_TIMEOUT": str(EMAIL_TIMEOUT),
            "DEBUG": "false",
            "SECRET_KEY": "fault-battery-" + uuid.uuid4().hex * 2,
            "ALLOWED_HOSTS": HOST,
            "SECURE_SSL_REDIRECT": "false",
            "SITE_URL": f"http://{HOST}:{self.ports['web']}",
            "STAFF_MFA_REQUIRED": "false",
            "ALTCHA_COST": "1000",
            # One client machine creates thousands of agreements: the limits are
            # not under test here (they have tests of their own).
            "API_RATE_LIMIT_PER_IP": "1000000/m",
            "API_RATE_LIMIT_PER_CSP": "1000000/m",
            "API_PREMISE_AUTH_RATE_LIMIT_PER_IP": "1000000/h",
            "API_PREMISE_AUTH_RATE_LIMIT_PER_CSP": "1000000/h",
            "LOG_LEVEL": "INFO",
            "PYTHONUNBUFFERED": "1",
        }
        if self.args.source == "head":
            src = self.work / "src"
            self.code = f"HEAD {snapshot_head(src)}"
        else:
            src, self.code = ROOT, "the work tree"
        self.portal = Portal(
            src=src,
            env=env,
            work=self.work,
            port=self.ports["web"],
            web_workers=self.args.web_workers,
            worker_concurrency=WORKER_CONCURRENCY,
        )
        self.portal.manage("migrate", "--noinput")
        self.portal.manage("seed_reference_data")
        self.portal.manage(
            "generate_premises", "--count", str(premises_needed), "--no-progress",
            "--samples", "0", "--workers", "2",
        )  # fmt: skip
        out = self.portal.manage(
            "create_csp", "--name", "Fault Battery Advisors LLC", "--email", "api@battery.example",
            "--scope-of-use", "Energy advice.", "--scope-of-use-es", "Asesoría energética.",
        )  # fmt: skip
        self.key = out.strip().splitlines()[-1].strip()
        self.pool = self._premises()
        self.portal.start_web()
        self.portal.start_worker()
        self.portal.start_beat()
        self._wait_ready()
        self.probe = ReadyProbe(self.ports["web"])
        self.probe.start()
        print(
            f"set up in {time.monotonic() - started:.0f} s: PostgreSQL :{self.ports['pg']} "
            f"(fsync on), Redis :{self.ports['redis']} (AOF), SMTP sink :{self.ports['smtp']}, "
            f"gunicorn :{self.ports['web']} x{self.args.web_workers}, worker x{WORKER_CONCURRENCY} "
            f"and beat under bin/supervise; DEBUG=false, EMAIL_TIMEOUT={EMAIL_TIMEOUT}; "
            f"{len(self.pool)} premises; code: {self.code}",
            flush=True,
        )

    def _premises(self):
        with self._db() as db:
            rows = db.execute(
                """
                SELECT p.esi_id, m.number, r.certificate_number
                FROM premises_premise p
                JOIN premises_retailelectricprovider r ON r.id = p.rep_of_record_id
                JOIN LATERAL (
                    SELECT number FROM premises_meter
                    WHERE premise_id = p.id AND removed_on IS NULL LIMIT 1
                ) m ON true
                ORDER BY p.id
                """
            ).fetchall()
        return list(rows)

    def _wait_ready(self, timeout=120):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if _http(self.ports["web"], "GET", "/healthz/ready", timeout=5)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"the portal never became ready; see {self.work}/gunicorn.log")

    def _db(self):
        return psycopg.connect(
            host=HOST, port=self.ports["pg"], user="postgres", dbname="portal",
            autocommit=True, connect_timeout=5,
        )  # fmt: skip

    # --- scenario helpers -------------------------------------------------------

    def remaining(self):
        return self.deadline - time.monotonic()

    def items(self, name, count, *, bounce_every=0):
        domain = f"{name.replace('_', '-')}.battery.example"
        taken, self.pool = self.pool[:count], self.pool[count:]
        if len(taken) < count:
            raise RuntimeError("ran out of premises; raise the premises generated")
        items = []
        for i, (esi_id, meter, certificate) in enumerate(taken):
            local = f"c{i}-bounce" if bounce_every and i % bounce_every == 0 else f"c{i}"
            items.append(Item(esi_id, meter, certificate, f"{local}@{domain}", ("en", "es")[i % 2]))
        return domain, items

    def load(self, items, *, twice=False):
        load = Load(
            port=self.ports["web"], key=self.key, items=items,
            threads=self.args.threads, twice=twice,
        )  # fmt: skip
        load.start()
        return load

    def wait_progress(self, load, fraction):
        while load.is_alive() and load.progress() < fraction and self.remaining() > 0:
            time.sleep(0.2)

    def wait_received(self, count, timeout):
        deadline = time.monotonic() + timeout
        while len(self.sink.snapshot()[0]) < count and time.monotonic() < deadline:
            time.sleep(0.1)

    def wait_worker_ready(self, readies, timeout=60):
        """Until the supervisor's new worker says "ready" (more often than ``readies``)."""
        deadline = time.monotonic() + timeout
        while self.portal.worker_readies() <= readies and time.monotonic() < deadline:
            time.sleep(0.2)

    def sleep(self, seconds):
        time.sleep(max(0.0, min(seconds, self.remaining())))

    def manage_async(self, *args):
        return subprocess.Popen(
            [str(ROOT / ".venv/bin/python"), "manage.py", *args],
            cwd=self.portal.src, env=self.portal.env, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )  # fmt: skip

    # --- one scenario -------------------------------------------------------------

    def run_scenario(self, name, scenario):
        row = Row(name)
        cap = min(self.args.scenario_cap, self.remaining())
        if cap < 60:
            row.skipped = "budget spent"
            return row
        self.sink.reset()
        self.sink.up()
        received_before = len(self.sink.snapshot()[0])
        worker_exits = self.portal.worker_exits()
        beat_exits = self.portal.beat_exits()
        self.probe.take()
        print(f"--- {name}", flush=True)
        context = {"row": row, "received_before": received_before}
        load, domain = scenario(self, context)
        load.join(timeout=max(1, self.remaining()))
        self._settle(row, load, domain, cap, started=load.started)
        row.requests = sum(load.statuses.values()) + load.connection_errors
        row.created_201 = load.statuses[201]
        row.unavailable_503 = load.statuses[503]
        row.status_500 = load.statuses[500]
        row.other_5xx = sum(n for s, n in load.statuses.items() if s >= 500 and s != 503)
        row.other_4xx = sum(n for s, n in load.statuses.items() if 400 <= s < 500)
        row.connection_errors = load.connection_errors
        row.gave_up = load.gave_up
        row.worker_restarts = self.portal.worker_exits() - worker_exits
        row.beat_restarts = self.portal.beat_exits() - beat_exits
        row.ready_503 = self.probe.take()[503]
        if row.other_4xx:
            refused = {s: n for s, n in load.statuses.items() if 400 <= s < 500}
            row.notes.append(f"4xx: {refused}")
        if row.gave_up:
            row.notes.append(f"{row.gave_up} requests given up by the client")
        if load.ids and len(load.ids) != row.agreements:
            row.notes.append(f"{len(load.ids)} ids answered, {row.agreements} agreements stored")
        print(_format_row(row), flush=True)
        return row

    def _settle(self, row, load, domain, cap, *, started):
        """Poll until every agreement's email is delivered or refused, or the cap passes."""
        deadline = started + cap
        while True:
            outcome = self._outcome(domain)
            complete = not load.is_alive() and outcome["complete"]
            if complete or time.monotonic() >= deadline or self.remaining() <= 0:
                break
            time.sleep(2)
        if complete:
            row.full_delivery = time.monotonic() - started
        for name in ("agreements", "delivered", "duplicates", "refused", "lost", "stuck"):
            setattr(row, name, outcome[name])
        row.notes.extend(outcome["notes"])

    def _outcome(self, domain):
        received, refused_at_sink = self.sink.snapshot()
        copies = Counter()
        for message in received:
            found = MESSAGE_ID.search(message.message_id)
            if found:
                copies[int(found.group(1))] += 1
        try:
            with self._db() as db:
                agreements = [
                    r[0]
                    for r in db.execute(
                        "SELECT id FROM affirmations_agreement "
                        "WHERE split_part(customer_email, '@', 2) = %s",
                        (domain,),
                    )
                ]
                labels = [f"agreement:{pk}" for pk in agreements]
                emails = db.execute(
                    "SELECT id, related_label, status, last_error FROM outbox_outboundemail "
                    "WHERE kind = 'affirmation_request' AND related_label = ANY(%s)",
                    (labels,),
                ).fetchall()
        except psycopg.OperationalError as exc:  # PostgreSQL restarting: not complete yet
            return {"complete": False, "agreements": 0, "delivered": 0, "duplicates": 0,
                    "refused": 0, "lost": 0, "stuck": 0, "notes": [f"db: {exc}"[:80]]}  # fmt: skip
        by_label = {}
        for email_id, label, status, last_error in emails:
            by_label.setdefault(label, []).append((email_id, status, last_error))
        delivered = duplicates = refused = lost = stuck = 0
        notes = []
        several = 0
        for label in labels:
            rows = by_label.get(label, [])
            if len(rows) > 1:
                several += 1
            got = [email_id for email_id, _, _ in rows if copies[email_id]]
            is_refused = any(
                status == "failed" and re.search(r"\(5\d\d,", last_error or "")
                for _, status, last_error in rows
            )
            stuck += sum(1 for _, status, _ in rows if status in ("pending", "sending"))
            if got:
                delivered += 1
                duplicates += sum(copies[email_id] - 1 for email_id in got)
            elif is_refused:
                refused += 1
            else:
                lost += 1
        if several:
            notes.append(f"{several} agreements with more than one request email")
        failed_other = sum(
            1
            for _, _, status, last_error in emails
            if status == "failed" and not re.search(r"\(5\d\d,", last_error or "")
        )
        if failed_other:
            notes.append(f"{failed_other} emails failed without a 5xx")
        sink_550 = sum(1 for address, reply in refused_at_sink if address.endswith(domain)
                       and reply.startswith("5"))  # fmt: skip
        if refused and sink_550 < refused:
            notes.append(f"refused {refused} but the sink said 5xx {sink_550} times")
        return {
            "complete": lost == 0 and stuck == 0 and len(labels) > 0,
            "agreements": len(labels),
            "delivered": delivered,
            "duplicates": duplicates,
            "refused": refused,
            "lost": lost,
            "stuck": stuck,
            "notes": notes,
        }

    # --- tear-down ------------------------------------------------------------------

    def verify_records(self):
        try:
            return self.portal.manage("verify_records", timeout=300).strip()
        except Exception as exc:  # reported, not raised: the table is printed anyway
            return f"FAILED: {exc}"

    def stop(self):
        if self.probe:
            self.probe.stopping.set()
        if self.portal:
            self.portal.stop()
        self.sink.stop()
        self.redis.stop()
        self.pg.stop()
        if self.args.keep:
            print(f"kept {self.work}")
        else:
            shutil.rmtree(self.work, ignore_errors=True)


# --- The scenarios ------------------------------------------------------------------
#
# Each starts the load and injects its fault; it returns (load, domain). The
# battery then waits for full delivery and fills the row.


def baseline(battery, context):
    domain, items = battery.items("baseline", battery.args.agreements)
    load = battery.load(items)
    return load, domain


def worker_kill(battery, context):
    """SIGKILL the worker and its pool twice under load; the supervisor restarts it."""
    domain, items = battery.items("worker_kill", battery.args.agreements)
    load = battery.load(items)
    killed = kills = 0
    for fraction in (0.3, 0.7):
        battery.wait_progress(load, fraction)
        ready = battery.portal.worker_readies()
        victims = battery.portal.kill_worker()
        killed += max(victims - 1, 0)
        kills += victims > 0
        battery.wait_worker_ready(ready)
    row = context["row"]
    # A pool process killed between the sink's 250 and its UPDATE sends again.
    row.duplicates_allowed = killed
    row.notes.append(f"{kills} kills, {killed} pool processes killed")
    return load, domain


def redis_down(battery, context):
    """Redis stopped (SIGTERM) for 30 s under load, then started on the same AOF."""
    domain, items = battery.items("redis_down", battery.args.agreements)
    load = battery.load(items)
    battery.wait_progress(load, 0.2)
    battery.redis.stop()
    battery.sleep(30)
    battery.redis.start()
    return load, domain


def pg_restart(battery, context):
    """``pg_ctl restart -m fast`` under load."""
    domain, items = battery.items("pg_restart", battery.args.agreements)
    load = battery.load(items)
    battery.wait_progress(load, 0.3)
    started = time.monotonic()
    battery.pg.restart_fast()
    context["row"].notes.append(f"PostgreSQL down {time.monotonic() - started:.1f} s")
    return load, domain


def smtp_down(battery, context):
    """Nothing listens on the SMTP port for 60 s from the first request."""
    domain, items = battery.items("smtp_down", battery.args.agreements)
    battery.sink.down()
    load = battery.load(items)
    battery.sleep(60)
    battery.sink.up()
    return load, domain


def smtp_450(battery, context):
    """The sink answers RCPT with 450 4.2.1 for the next 20 recipients."""
    domain, items = battery.items("smtp_450", battery.args.agreements)
    battery.sink.refuse_next(20)
    return battery.load(items), domain


def smtp_550(battery, context):
    """The sink refuses one address in 20 with 550 5.1.1: failed at once, counted as refused."""
    domain, items = battery.items("smtp_550", battery.args.agreements, bounce_every=20)
    battery.sink.refuse_matching(r"-bounce@")
    bounces = sum(1 for item in items if "-bounce@" in item.email)
    context["row"].notes.append(f"{bounces} bounce addresses")
    return battery.load(items), domain


def smtp_silent(battery, context):
    """For 45 s the SMTP port accepts connections and never answers (a hung relay)."""
    domain, items = battery.items("smtp_silent", battery.args.agreements)
    battery.sink.silent()
    load = battery.load(items)
    battery.sleep(45)
    battery.sink.up()
    return load, domain


def crash_send(battery, context):
    """A slow sink (0.5 s in DATA) and the worker SIGKILLed three times while it sends:
    a crash between the sink's acceptance and the row marked sent gives at most a
    duplicate with the same Message-ID, at most one per pool process killed."""
    domain, items = battery.items("crash_send", battery.args.agreements)
    battery.sink.slow_data(0.5)
    load = battery.load(items)
    before = context["received_before"]
    killed = kills = 0
    for fraction in (0.2, 0.45, 0.7):
        battery.wait_received(before + int(len(items) * fraction), timeout=120)
        ready = battery.portal.worker_readies()
        victims = battery.portal.kill_worker()
        battery.wait_worker_ready(ready)
        killed += max(victims - 1, 0)  # the pool processes; the main one sends nothing
        kills += victims > 0
    row = context["row"]
    row.duplicates_allowed = killed
    row.notes.append(f"{kills} kills, {killed} pool processes killed")
    return load, domain


def run_jobs_race(battery, context):
    """The worker stopped while agreements are created; then two ``manage.py run_jobs``
    relays at once (and beat's) send the backlog; then the worker comes back to stale
    send tasks. No email may go twice."""
    domain, items = battery.items("run_jobs_race", battery.args.agreements)
    battery.portal.stop_worker()
    battery.sink.slow_data(0.05)
    load = battery.load(items)
    load.join()
    relays = [
        battery.manage_async("run_jobs", "--only", "outbox.tasks.relay_pending_emails")
        for _ in range(2)
    ]
    outputs = [relay.communicate(timeout=max(30, battery.remaining()))[0] for relay in relays]
    sent = [re.search(r"relay_pending_emails: (\d+)", out) for out in outputs]
    context["row"].notes.append(
        "run_jobs sent " + " + ".join(m.group(1) if m else "?" for m in sent)
    )
    battery.portal.start_worker()
    return load, domain


def idempotency(battery, context):
    """Every request sent twice at once with the same Idempotency-Key and body."""
    domain, items = battery.items("idempotency", battery.args.agreements)
    return battery.load(items, twice=True), domain


SCENARIOS = {
    "baseline": baseline,
    "idempotency": idempotency,
    "smtp_550": smtp_550,
    "run_jobs_race": run_jobs_race,
    "pg_restart": pg_restart,
    "redis_down": redis_down,
    "worker_kill": worker_kill,
    "crash_send": crash_send,
    "smtp_450": smtp_450,
    "smtp_down": smtp_down,
    "smtp_silent": smtp_silent,
}
QUICK = ["baseline", "idempotency", "smtp_550", "pg_restart"]


# --- The table --------------------------------------------------------------------

COLUMNS = [
    ("scenario", 13), ("requests", 8), ("201", 5), ("503", 5), ("5xx", 4), ("agreem.", 7),
    ("delivered", 9), ("dups", 4), ("refused", 7), ("lost", 4), ("stuck", 5),
    ("full s", 6), ("restarts", 8), ("ready503", 8),
]  # fmt: skip


def _header():
    return " ".join(f"{title:>{width}}" if i else f"{title:<{width}}"
                    for i, (title, width) in enumerate(COLUMNS))  # fmt: skip


def _format_row(row):
    if row.skipped:
        return f"{row.name:<13} skipped: {row.skipped}"
    dups = f"{row.duplicates}" + (f"/{row.duplicates_allowed}" if row.duplicates_allowed else "")
    values = [
        row.name, row.requests, row.created_201, row.unavailable_503, row.other_5xx,
        row.agreements, row.delivered, dups, row.refused, row.lost, row.stuck,
        "—" if row.full_delivery is None else f"{row.full_delivery:.0f}",
        f"{row.worker_restarts}w {row.beat_restarts}b", row.ready_503,
    ]  # fmt: skip
    return " ".join(
        f"{value!s:>{width}}" if i else f"{value!s:<{width}}"
        for i, (value, (_, width)) in enumerate(zip(values, COLUMNS, strict=True))
    )


def _verdict(rows):
    problems = []
    for row in rows:
        if row.skipped:
            continue
        if row.lost or row.stuck:
            problems.append(f"{row.name}: {row.lost} lost, {row.stuck} stuck")
        if row.status_500 or row.other_5xx:
            problems.append(f"{row.name}: {row.other_5xx} 5xx other than 503")
        if row.duplicates > row.duplicates_allowed:
            problems.append(
                f"{row.name}: {row.duplicates} duplicates, {row.duplicates_allowed} allowed"
            )
        if row.name in ("redis_down",) and row.worker_restarts:
            problems.append(f"{row.name}: the worker needed its supervisor")
    return problems


def main():
    args = _parse_args()
    names = args.scenarios.split(",") if args.scenarios else None
    names = names or (QUICK if args.quick else list(SCENARIOS))
    unknown = [name for name in names if name not in SCENARIOS]
    if unknown:
        sys.exit(f"unknown scenario(s): {', '.join(unknown)}; known: {', '.join(SCENARIOS)}")
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # clean up on TERM too
    battery = Battery(args)
    started = time.monotonic()
    records = ""
    try:
        battery.setup(premises_needed=args.agreements * len(names) + 50)
        for name in names:
            battery.rows.append(battery.run_scenario(name, SCENARIOS[name]))
        records = battery.verify_records()
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not orphan them
        battery.stop()
        signal.signal(signal.SIGINT, signal.default_int_handler)
    print()
    print(f"fault battery on {battery.code}: {args.agreements} agreements per scenario, "
          f"{args.threads} clients; "
          f"relay by beat every 60 s; {time.monotonic() - started:.0f} s in all")  # fmt: skip
    print(_header())
    for row in battery.rows:
        print(_format_row(row))
    for row in battery.rows:
        for note in row.notes:
            print(f"  {row.name}: {note}")
    print(f"verify_records: {records}")
    problems = _verdict(battery.rows)
    if "intact" not in records:
        problems.append("verify_records did not report an intact chain")
    print("verdict: " + ("OK" if not problems else "; ".join(problems)))
    sys.exit(1 if problems else 0)


def _parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agreements", type=int, default=None, help="per scenario (200)")
    parser.add_argument("--scenarios", default="", help=f"comma-separated: {', '.join(SCENARIOS)}")
    parser.add_argument("--budget-seconds", type=float, default=900)
    parser.add_argument("--scenario-cap", type=float, default=360, help="seconds per scenario")
    parser.add_argument("--quick", action="store_true", help=f"N=20, {', '.join(QUICK)}")
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--web-workers", type=int, default=3)
    parser.add_argument(
        "--base-port", type=int, default=55400, help="PostgreSQL; Redis +1, SMTP +2, web +3"
    )
    parser.add_argument(
        "--source",
        choices=["head", "worktree"],
        default="head",
        help="run the portal from a snapshot of HEAD (default) or from the work tree",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs)")
    args = parser.parse_args()
    if args.agreements is None:
        args.agreements = 20 if args.quick else 200
    return args


if __name__ == "__main__":
    main()
