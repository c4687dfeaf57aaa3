"""The outbox against a real SMTP server on loopback (aiosmtpd), replying as
real servers do: greylisting, unknown users, silence, and a worker that dies
after the server took the message."""

import email as email_parser
import socket
import threading
import time

import pytest
from aiosmtpd.controller import Controller
from django.utils import timezone

from outbox import services
from outbox.models import EmailStatus, OutboundEmail
from outbox.services import email_send, emails_relay_pending

pytestmark = pytest.mark.django_db


class ScriptedServer:
    """Replies to RCPT TO with the next scripted reply ("250" accepts); keeps what it got."""

    def __init__(self, rcpt_replies=()):
        self.rcpt_replies = list(rcpt_replies)
        self.messages = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        reply = self.rcpt_replies.pop(0) if self.rcpt_replies else "250 OK"
        if reply.startswith("250"):
            envelope.rcpt_tos.append(address)
        return reply

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email_parser.message_from_bytes(envelope.content))
        return "250 Message accepted for delivery"


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp_server(settings):
    servers = []

    def start(rcpt_replies=()):
        handler = ScriptedServer(rcpt_replies)
        controller = Controller(handler, hostname="127.0.0.1", port=free_port())
        controller.start()
        servers.append(controller)
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", controller.port
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        return handler

    yield start
    for controller in servers:
        controller.stop()


def test_greylisting_at_rcpt_is_retried_until_the_server_takes_it(
    queue_test_email, smtp_server, clock
):
    server = smtp_server(["450 4.2.1 Greylisted, try again later"] * 2)
    email = queue_test_email(to="ana@example.com")

    for _attempt in range(2):
        assert email_send(email_id=email.pk, now=timezone.now()) is False
        email.refresh_from_db()
        assert email.status == EmailStatus.PENDING and "450" in email.last_error
        clock.move_to(email.next_attempt_at)
    assert email_send(email_id=email.pk, now=timezone.now()) is True

    email.refresh_from_db()
    assert (email.status, email.attempts) == (EmailStatus.SENT, 3)
    assert [m["To"] for m in server.messages] == ["ana@example.com"]


def test_an_unknown_user_at_rcpt_fails_at_once(queue_test_email, smtp_server):
    server = smtp_server(["550 5.1.1 No such user"])
    email = queue_test_email(to="nobody@example.com")

    assert email_send(email_id=email.pk, now=timezone.now()) is False

    email.refresh_from_db()
    assert (email.status, email.attempts) == (EmailStatus.FAILED, 1)
    assert "550" in email.last_error and server.messages == []


def test_every_attempt_of_a_row_carries_the_same_message_id(queue_test_email, smtp_server, clock):
    server = smtp_server()
    email = queue_test_email()
    real_mark = services._mark
    crashes = []

    def worker_dies_before_marking_sent(email_id, token, **values):
        if values.get("status") == EmailStatus.SENT and not crashes:
            crashes.append(email_id)
            raise SystemExit("the worker was killed after the server took the message")
        return real_mark(email_id, token, **values)

    services._mark = worker_dies_before_marking_sent
    try:
        with pytest.raises(SystemExit):
            email_send(email_id=email.pk, now=timezone.now())
        assert OutboundEmail.objects.get(pk=email.pk).status == EmailStatus.SENDING
        clock.shift(services.claim_lease())
        assert emails_relay_pending(now=timezone.now()) == 1
    finally:
        services._mark = real_mark

    assert OutboundEmail.objects.get(pk=email.pk).status == EmailStatus.SENT
    first, second = server.messages  # at least once: the one duplicate the crash allows
    assert first["Message-ID"] == second["Message-ID"] == services.message_id(email)


@pytest.fixture
def silent_server(settings):
    """Accepts connections and never says a word."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    accepted = []
    stop = threading.Event()

    def accept():
        listener.settimeout(0.05)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", listener.getsockname()[1]
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 0.2
    yield accepted
    stop.set()
    thread.join()
    for connection in accepted:
        connection.close()
    listener.close()


def test_a_server_that_never_answers_costs_one_timeout_and_a_retry(queue_test_email, silent_server):
    email = queue_test_email()
    started = time.monotonic()

    assert email_send(email_id=email.pk, now=timezone.now()) is False

    assert time.monotonic() - started < 3, "the attempt gave up on its own time-out"
    email.refresh_from_db()
    assert email.status == EmailStatus.PENDING and email.next_attempt_at > timezone.now()
    assert silent_server, "the connection was made"
