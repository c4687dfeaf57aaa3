"""One HTTP POST to an endpoint, to a vetted address, within a time budget.

``http.client`` is enough and adds no dependency: it follows no redirects
(a 3xx is an answer like any other, and not a success), and a connection
subclass connects to the address ``safety.resolve_vetted`` approved while
TLS still checks the certificate against the host name (SNI and ``Host``
carry the name). The answer's body is read up to ``MAX_READ`` bytes.
"""

import functools
import http.client
import socket
import ssl
import time
from dataclasses import dataclass

from django.conf import settings

from .safety import UnsafeUrl, resolve_vetted, url_check

MAX_READ = 4096
USER_AGENT = "SMT-Consent-Portal-Webhooks/1.0"


@dataclass(frozen=True)
class Answer:
    status_code: int
    excerpt: str
    location: str = ""

    @property
    def ok(self):
        return 200 <= self.status_code < 300


class SendFailed(Exception):
    """No answer: the connection, TLS or the time budget failed."""


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host, port, *, address, timeout):
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self):
        self.sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host, port, *, address, timeout, context):
        super().__init__(host, port, timeout=timeout, context=context)
        self._address = address

    def connect(self):
        sock = socket.create_connection((self._address, self.port), self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


@functools.lru_cache(maxsize=4)
def _tls_context(ca_file):
    # Loading the system's certificates costs milliseconds: once per process.
    context = ssl.create_default_context(cafile=ca_file or None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def post(url: str, *, body: bytes, headers: dict[str, str]) -> Answer:
    """POST ``body`` to ``url``; the answer, or ``UnsafeUrl`` / ``SendFailed``."""
    parts = url_check(url)
    host = parts.hostname.rstrip(".")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    addresses = resolve_vetted(host, port)
    deadline = time.monotonic() + settings.WEBHOOKS_TIMEOUT_SECONDS
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    connection = _connect(parts.scheme, host, port, addresses, deadline)
    try:
        _remaining(connection, deadline)
        connection.request("POST", target, body=body, headers={
            **headers, "Content-Type": "application/json", "User-Agent": USER_AGENT,
            "Connection": "close",
        })  # fmt: skip
        _remaining(connection, deadline)
        response = connection.getresponse()
        _remaining(connection, deadline)
        excerpt = _read_some(response, deadline, connection)
        return Answer(response.status, excerpt, response.getheader("Location", "")[:200])
    except (OSError, http.client.HTTPException) as exc:
        raise SendFailed(_describe(exc)) from None
    finally:
        connection.close()


def _connect(scheme, host, port, addresses, deadline):
    """A connection to the first vetted address that accepts one within the connect time-out."""
    last = None
    for address in addresses:
        timeout = min(settings.WEBHOOKS_CONNECT_TIMEOUT_SECONDS, deadline - time.monotonic())
        if timeout <= 0:
            break
        if scheme == "https":
            connection = _PinnedHTTPSConnection(
                host, port, address=address, timeout=timeout,
                context=_tls_context(settings.WEBHOOKS_CA_FILE),
            )  # fmt: skip
        else:
            connection = _PinnedHTTPConnection(host, port, address=address, timeout=timeout)
        try:
            connection.connect()
            return connection
        except OSError as exc:
            connection.close()
            last = exc
    raise SendFailed(_describe(last) if last else "timed out before connecting")


def _remaining(connection, deadline):
    """Each socket operation may take only what is left of the attempt's budget."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("the attempt's time budget ran out")
    connection.sock.settimeout(left)


def _read_some(response, deadline, connection):
    chunks, size = [], 0
    while size < MAX_READ:
        _remaining(connection, deadline)
        chunk = response.read1(MAX_READ - size) if hasattr(response, "read1") else b""
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks).decode("utf-8", "replace")[:500]


def _describe(exc):
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS certificate refused: {exc.verify_message}"[:500]
    if isinstance(exc, TimeoutError | socket.timeout):
        return "timed out"
    return f"{type(exc).__name__}: {exc}"[:500]


__all__ = ["Answer", "SendFailed", "UnsafeUrl", "post"]
