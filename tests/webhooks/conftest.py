"""Webhook fixtures: a local HTTPS receiver, a resolver we control, a frozen clock.

The receiver is a real TLS server on loopback with a certificate made for
``hooks.bright-advice.example`` at test time; the sender trusts it through
``WEBHOOKS_CA_FILE``. Names resolve through ``fake_dns`` — the one place a
test stands in for the outside world: ``socket.getaddrinfo`` for the names it
maps, the real resolver for everything else (IP literals included).
"""

import datetime as dt
import ipaddress
import json
import socket
import ssl
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import time_machine
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.utils import timezone

from csp_registry.events import EventDraft, events_emit
from csp_registry.models import EventType
from tests.affirmations.conftest import disclosure  # noqa: F401 -- a fixture, shared
from webhooks.services import endpoint_create

# Monday 23 November 2026, 09:00 in Chicago.
START = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
HOOK_HOST = "hooks.bright-advice.example"
ALL_TYPES = list(EventType.values)


@pytest.fixture
def clock():
    """A stopped clock; ``clock.shift(seconds or timedelta)`` moves it."""
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory):
    """A self-signed certificate for the receiver's names, and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOOK_HOST)])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        # Wide validity: OpenSSL checks it against the real clock, not the frozen one.
        .not_valid_before(dt.datetime(2000, 1, 1, tzinfo=UTC))
        .not_valid_after(dt.datetime(2099, 1, 1, tzinfo=UTC))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName(HOOK_HOST),
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                ]
            ),
            critical=False,
        )  # fmt: skip
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_file), str(key_file)


class Receiver:
    """Records every POST; answers what it is told (``answer_with``), 200 by default."""

    def __init__(self):
        self.requests = []
        self._plan = []
        self.default = (200, b'{"ok":true}', {})
        self.lock = threading.Lock()

    def answer_with(self, status, body=b"", headers=None, times=1):
        """The next ``times`` requests get this answer, then the default again."""
        with self.lock:
            self._plan += [(status, body, headers or {})] * times

    def hang_for(self, seconds, times=1):
        with self.lock:
            self._plan += [("hang", seconds, {})] * times

    def next_answer(self):
        with self.lock:
            return self._plan.pop(0) if self._plan else self.default

    def ids(self):
        return [request["headers"]["webhook-id"] for request in self.requests]

    def payloads(self):
        return [json.loads(request["body"]) for request in self.requests]


def _handler(receiver):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):  # noqa: N802 -- http.server's name
            length = int(self.headers.get("Content-Length", 0))
            body = self.rfile.read(length).decode()
            status, answer, headers = receiver.next_answer()
            with receiver.lock:
                receiver.requests.append({
                    "path": self.path, "host": self.headers.get("Host"),
                    "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body,
                })  # fmt: skip
            if status == "hang":
                time.sleep(answer)
                return
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args):
            pass

    return Handler


@pytest.fixture
def receiver(tls_files, settings):
    """The HTTPS receiver on 127.0.0.1; ``receiver.port`` is where it listens."""
    cert_file, key_file = tls_files
    state = Receiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.WEBHOOKS_CA_FILE = cert_file
    settings.WEBHOOKS_ALLOW_INSECURE_LOCAL = True
    state.port = server.server_address[1]
    state.url = f"https://{HOOK_HOST}:{state.port}/smt/events?source=portal"
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def fake_dns(monkeypatch):
    """``fake_dns[name] = ["127.0.0.1", …]``: what ``name`` resolves to from now on."""
    answers = {HOOK_HOST: ["127.0.0.1"]}
    real = socket.getaddrinfo

    def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
        if host not in answers:
            return real(host, port, family, type, proto, flags)
        return [_addrinfo(address, port) for address in answers[host]]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return answers


def _addrinfo(address, port):
    if ipaddress.ip_address(address).version == 6:
        return (socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port, 0, 0))
    return (socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))


@pytest.fixture
def endpoint(active_csp, receiver, fake_dns, clock):
    """An endpoint of the active CSP for every event type, on the receiver; ``.secret``."""
    created, secret = endpoint_create(
        csp=active_csp, url=receiver.url, event_types=ALL_TYPES, now=timezone.now()
    )
    created.secret = secret
    return created


def emit(csp, *, type=EventType.AGREEMENT_AFFIRMED, agreement_id=1, count=1):
    """Events as the agreement services emit them (the payload's shape is theirs)."""
    return events_emit(
        drafts=[
            EventDraft(
                csp_id=csp.pk,
                type=type,
                agreement_id=agreement_id + n,
                data={
                    "agreement": {
                        "id": agreement_id + n,
                        "status": "active",
                        "customer_email_masked": "a***@example.com",
                    }
                },
            )  # fmt: skip
            for n in range(count)
        ],
        now=timezone.now(),
    )


def later(clock, **delta):
    clock.shift(timedelta(**delta))
    return timezone.now()
