"""Webhook deliveries per second to a local HTTPS receiver, and what an event costs a change.

    DATABASE_URL=postgres://postgres@127.0.0.1:54329/h7_webhooks_bench \\
    REDIS_URL=redis://127.0.0.1:63799/8 \\
        .venv/bin/python bench/bench_webhooks.py [--deliveries 2000] [--threads 4] \\
            [--agreements 300]

In-process, on PostgreSQL. Two measurements:

1. Delivery throughput. A TLS receiver on 127.0.0.1 (self-signed certificate
   made at start, trusted through ``WEBHOOKS_CA_FILE``) answers 204. N events
   are queued for one endpoint, then sent (a) by the beat relay, one sweep on
   one thread, and (b) as the Celery tasks would, ``delivery_send`` per row on
   ``--threads`` threads. Each send is the real one: claim (conditional
   UPDATE), resolve and vet the address, sign, TLS handshake, POST, read,
   record the attempt and the outcome. Duplicates and losses are counted at
   the receiver.
2. The event's cost. Agreement creation (no event: a request is not one) and
   termination by the CSP (one ``agreement.terminated`` event) are timed
   through their services with webhooks switched off (the subscriber
   removed), with the subscriber but no endpoint, and with one endpoint (a
   delivery row in the change's transaction and its publish after commit).

Publishing to the broker is real in (2) and switched off in (1) (the bench
sends itself); messages left on the broker are purged at the end.
"""

import argparse
import datetime as dt
import ipaddress
import os
import ssl
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smt_portal.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")  # one INFO line per failed attempt otherwise

import django  # noqa: E402

django.setup()

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, connections, transaction  # noqa: E402
from django.db.models import OuterRef, Subquery  # noqa: E402
from django.utils import timezone  # noqa: E402

from affirmations import services as agreements  # noqa: E402
from affirmations.models import AgreementPremise, EndedBy  # noqa: E402
from csp_registry import events  # noqa: E402
from csp_registry.events import EventDraft, events_emit  # noqa: E402
from csp_registry.models import EventType  # noqa: E402
from csp_registry.services import csp_create_approved  # noqa: E402
from premises.models import Meter, Premise  # noqa: E402
from smt_portal.actors import Actor  # noqa: E402
from webhooks import services as webhooks  # noqa: E402
from webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint  # noqa: E402

HOST = "127.0.0.1"


def main():
    args = _parse_args()
    if connection.vendor != "postgresql":
        sys.exit("run on PostgreSQL (DATABASE_URL=postgres://…)")
    settings.DEBUG = False  # no query log in memory; loopback receivers stay allowed
    call_command("migrate", verbosity=0)
    call_command("seed_reference_data", stdout=open(os.devnull, "w"))  # noqa: SIM115
    _retire_bench_endpoints()  # an earlier run's leftovers would be swept with this run's
    receiver = Receiver()
    try:
        throughput = _throughput(args, receiver)
        costs = _event_costs(args, receiver)
    finally:
        receiver.stop()
        _retire_bench_endpoints()
        _purge_broker()
    _report(args, throughput, costs)


def _parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--agreements", type=int, default=300, help="per mode, in (2)")
    return parser.parse_args()


# --- The receiver -------------------------------------------------------------------------


class Receiver:
    """HTTPS on 127.0.0.1, 204 to every POST; counts each webhook-id it was sent."""

    def __init__(self):
        folder = Path(tempfile.mkdtemp(prefix="bench-webhooks-"))
        cert_file, key_file = _certificate(folder)
        settings.WEBHOOKS_CA_FILE = str(cert_file)
        self.seen, self.lock = {}, threading.Lock()
        self.server = ThreadingHTTPServer((HOST, 0), self._handler())
        self.server.daemon_threads = True
        self.server.request_queue_size = 256
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_file, key_file)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"https://{HOST}:{self.server.server_address[1]}/hook"

    def _handler(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):  # noqa: N802
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    key = self.headers.get("webhook-id")
                    receiver.seen[key] = receiver.seen.get(key, 0) + 1
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        return Handler

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def _certificate(folder):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bench receiver")])
    now = dt.datetime.now(tz=dt.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=7))
        .add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address(HOST))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ))  # fmt: skip
    return cert_file, key_file


# --- (1) Throughput -----------------------------------------------------------------------


def _new_csp(label):
    now = timezone.now()
    csp, _ = csp_create_approved(
        name=f"Bench {label}", email=f"bench-{label}-{now:%Y%m%d%H%M%S%f}@example.com", now=now,
        facts={"scope_of_use": "Bench advice.", "scope_of_use_es": "Asesoría de prueba."},
    )  # fmt: skip
    return csp


def _endpoint(csp, receiver):
    endpoint, _secret = webhooks.endpoint_create(
        csp=csp, url=receiver.url, event_types=list(EventType.values), now=timezone.now()
    )
    return endpoint


def _queue(csp, count):
    """``count`` events and their deliveries, without publishing (the bench sends)."""
    publish, webhooks._publish = webhooks._publish, lambda ids: None
    try:
        with transaction.atomic():
            created = events_emit(
                drafts=[
                    EventDraft(
                        csp.pk,
                        EventType.AGREEMENT_AFFIRMED,
                        {"agreement": {"id": n, "status": "active"}},
                        n,
                    )  # fmt: skip
                    for n in range(count)
                ],
                now=timezone.now(),
            )
    finally:
        webhooks._publish = publish
    return list(WebhookDelivery.objects.filter(event__in=created).values_list("pk", flat=True))


def _throughput(args, receiver):
    results = {}
    for mode in ("relay", "tasks"):
        csp = _new_csp(mode)
        endpoint = _endpoint(csp, receiver)
        ids = _queue(csp, args.deliveries)
        receiver.seen.clear()
        started = time.perf_counter()
        if mode == "relay":
            while webhooks.deliveries_relay_pending(now=timezone.now(), limit=args.deliveries):
                pass
        else:
            with ThreadPoolExecutor(max_workers=args.threads) as pool:
                list(pool.map(_send_in_thread, ids))
        elapsed = time.perf_counter() - started
        delivered = WebhookDelivery.objects.filter(endpoint=endpoint, status="delivered").count()
        durations = sorted(
            WebhookAttempt.objects.filter(delivery__endpoint=endpoint).values_list(
                "duration_ms", flat=True
            )
        )
        results[mode] = {
            "elapsed": elapsed, "delivered": delivered, "durations": durations,
            "received": len(receiver.seen), "duplicates": sum(receiver.seen.values()) - len(
                receiver.seen),
        }  # fmt: skip
    return results


def _send_in_thread(delivery_id):
    try:
        return webhooks.delivery_send(delivery_id=delivery_id, now=timezone.now())
    finally:
        connections.close_all()  # each pool thread holds its own connection


# --- (2) The event's cost -----------------------------------------------------------------


def _premises(count):
    taken = AgreementPremise.objects.count()
    if Premise.objects.count() < taken + count:
        call_command("generate_premises", count=taken + count, no_progress=True, samples=0)
    meter = Meter.objects.filter(premise=OuterRef("pk"), removed_on=None).values("number")[:1]
    return list(
        Premise.objects.exclude(pk__in=AgreementPremise.objects.values("premise_id"))
        .annotate(meter=Subquery(meter))
        .order_by("pk")
        .values_list("esi_id", "meter", "rep_of_record__certificate_number")[:count]
    )


def _event_costs(args, receiver):
    """The modes take turns, one agreement each, so drift (caches, autovacuum, other
    load) falls on all of them alike; a first round warms up and is not counted."""
    modes = ["webhooks off", "no endpoint", "one endpoint"]
    warm_up = 10
    premises = iter(_premises((args.agreements + warm_up) * len(modes)))
    csps = {mode: _new_csp(mode.replace(" ", "-")) for mode in modes}
    _endpoint(csps["one endpoint"], receiver)
    costs = {mode: {"create": [], "terminate": []} for mode in modes}
    for round_ in range(args.agreements + warm_up):
        for mode in modes:
            created, ended = _with_webhooks(mode != "webhooks off", _create_and_end,
                                            csps[mode], next(premises))  # fmt: skip
            if round_ >= warm_up:
                costs[mode]["create"].append(created)
                costs[mode]["terminate"].append(ended)
    return {mode: {k: sorted(v) for k, v in c.items()} for mode, c in costs.items()}


def _with_webhooks(on, call, *args):
    subscribed = webhooks.deliveries_queue in events._subscribers
    if not on and subscribed:
        events._subscribers.remove(webhooks.deliveries_queue)
    try:
        return call(*args)
    finally:
        if subscribed and webhooks.deliveries_queue not in events._subscribers:
            events._subscribers.append(webhooks.deliveries_queue)


def _create_and_end(csp, premise):
    """Seconds to create one agreement (no event) and to end it (one event)."""
    actor = Actor.csp(csp, key_prefix="bench", ip="203.0.113.9", user_agent="bench")
    started = time.perf_counter()
    agreement = agreements.agreement_request(
        csp=csp, premises=[premise], customer_email="customer@example.com", term_months=12,
        language="en", actor=actor, now=timezone.now(),
    )  # fmt: skip
    created = time.perf_counter() - started
    started = time.perf_counter()
    agreements.agreement_terminate(
        agreement=agreement, ended_by=EndedBy.CSP, reason="bench", actor=actor,
        now=timezone.now(),
    )  # fmt: skip
    return created, time.perf_counter() - started


def _retire_bench_endpoints():
    """Delete the bench CSPs' endpoints: their unsent deliveries are cancelled."""
    for endpoint in WebhookEndpoint.objects.filter(
        csp__legal_name__startswith="Bench ", deleted_at=None
    ):
        webhooks.endpoint_delete(endpoint=endpoint, now=timezone.now())


def _purge_broker():
    from celery import current_app

    try:
        current_app.control.purge()
    except Exception as exc:  # a bench leaves no state behind if it can help it
        print(f"(could not purge the broker: {type(exc).__name__})")


# --- Report ---------------------------------------------------------------------------------


def _ms(values, quantile):
    return values[max(int(len(values) * quantile) - 1, 0)] * 1000 if values else 0.0


def _report(args, throughput, costs):
    print(f"\n{os.cpu_count()} CPUs shared by the sender, the receiver and PostgreSQL")
    print(f"\n(1) {args.deliveries} deliveries to https://{HOST} (TLS handshake each)")
    print(f"{'':<34}{'per s':>8}{'delivered':>11}{'received':>10}{'dupes':>7}"
          f"{'p50 ms':>8}{'p99 ms':>8}")  # fmt: skip
    for mode, r in throughput.items():
        name = "relay, one sweep" if mode == "relay" else f"delivery_send on {args.threads} threads"
        d = [ms / 1000 for ms in r["durations"]]
        rate = r["delivered"] / r["elapsed"]
        print(f"{name:<34}{rate:>8.0f}{r['delivered']:>11}{r['received']:>10}"
              f"{r['duplicates']:>7}{_ms(d, .5):>8.1f}{_ms(d, .99):>8.1f}")  # fmt: skip
    print(f"\n(2) {args.agreements} agreements per mode, services in-process")
    print(f"{'':<16}{'create p50':>12}{'p99':>8}{'terminate p50':>15}{'p99':>8}{'mean':>8}")
    base = statistics.mean(costs["webhooks off"]["terminate"]) * 1000
    for mode, c in costs.items():
        mean = statistics.mean(c["terminate"]) * 1000
        print(f"{mode:<16}{_ms(c['create'], .5):>12.1f}{_ms(c['create'], .99):>8.1f}"
              f"{_ms(c['terminate'], .5):>15.1f}{_ms(c['terminate'], .99):>8.1f}{mean:>8.1f}"
              f"  ({mean - base:+.1f} ms)")  # fmt: skip


if __name__ == "__main__":
    main()
