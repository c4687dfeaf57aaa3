"""Queue, claim, send and retry transactional email.

Every email is a row written in the caller's transaction (``email_queue``); a
Celery task sends it after commit (or, for the emails a web process commits
within a second of its last publish, the relay it published then:
``KICK_WINDOW``). When the broker or the worker is down the row simply
waits: the beat sweep (``emails_relay_pending``) sends whatever is due.
Rows are claimed one at a time by conditional UPDATEs with a short lease,
so two workers, a Celery retry and the sweep never send one email at the same
time, and a worker that dies strands one row for one lease, not a batch.

Delivery is at least once. Exactly once is impossible over SMTP: a worker that
dies after the server accepted a message and before the row is marked sent
leaves a row that is sent again when its lease ends. That window is kept to
one UPDATE, and every attempt of a row carries the same Message-ID, so a
receiving system can recognise the copy.

Transient failures (connection errors, time-outs, 4xx replies) are retried
with backoff until the email is pointless — its ``deliver_until``, the
deadline of the link it carries — and then fail visibly; 5xx replies about
the recipient or the message fail at once.
"""

import logging
import secrets
import smtplib
from datetime import timedelta
from email.utils import parseaddr
from functools import partial

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Concat
from django.template import Context, TemplateDoesNotExist
from django.template.loader import get_template
from django.utils import timezone, translation

from outbox.models import UNSENT_STATUSES, EmailStatus, OutboundEmail
from premises.sandbox import is_sandbox_address
from smt_portal.sealed_tokens import unseal

logger = logging.getLogger(__name__)

FALLBACK_LANGUAGE = "en"
BACKOFF_BASE = timedelta(minutes=1)
BACKOFF_CAP = timedelta(hours=1)
# Each socket operation of an attempt (connect, greeting, each command, the
# data) gives up after this; a server that accepts and never answers costs
# one time-out, not a hung worker.
DEFAULT_SEND_TIMEOUT_SECONDS = 30
# An SMTP conversation is a handful of operations, each bounded by the send
# time-out: a claim lasting this long outlives any live attempt, and a row
# whose worker died is taken again after minutes, not a quarter of an hour.
SMTP_OPERATIONS_PER_ATTEMPT = 6
# How many due rows one relay looks at per round; each is claimed on its own.
RELAY_WINDOW = 20
REPORT_PATH = "/report/"


def send_timeout_seconds():
    return getattr(settings, "EMAIL_TIMEOUT", None) or DEFAULT_SEND_TIMEOUT_SECONDS


def claim_lease() -> timedelta:
    """How long a claim protects a row: longer than any live attempt can take."""
    return timedelta(seconds=send_timeout_seconds() * SMTP_OPERATIONS_PER_ATTEMPT)


def default_deliver_until(now):
    """The end of retrying for an email whose content has no deadline of its own."""
    return now + timedelta(hours=settings.OUTBOX_DELIVERY_WINDOW_HOURS)


# --- Queueing ---------------------------------------------------------------


def email_queue(
    *,
    kind: str,
    to: str,
    language: str,
    context: dict,
    now,
    related_label: str = "",
    deliver_until=None,
) -> OutboundEmail:
    """Render the email and store it; it is sent after the caller's commit.

    Call it inside the transaction of the change that causes the email: if
    that transaction rolls back, the row and the send vanish with it. Outside
    a transaction the row commits at once and the send is scheduled at once.
    ``deliver_until`` is when the email stops being worth sending (a link's
    deadline); without one, ``OUTBOX_DELIVERY_WINDOW_HOURS`` after ``now``.
    """
    email = email_build(
        kind=kind,
        to=to,
        language=language,
        context=context,
        now=now,
        related_label=related_label,
        deliver_until=deliver_until,
    )
    email.save(force_insert=True)
    email_queued(email)
    return email


def email_build(
    *,
    kind: str,
    to: str,
    language: str,
    context: dict,
    now,
    related_label: str = "",
    deliver_until=None,
) -> OutboundEmail:
    """``email_queue``'s row, rendered and not saved: for a caller that INSERTs it
    together with its own rows (in one statement), then calls ``email_queued``."""
    language = _supported_language(language)
    subject, body_text, body_html = email_render(kind=kind, language=language, context=context)
    return OutboundEmail(
        kind=kind,
        language=language,
        to_address=to,
        subject=subject,
        body_text=body_text,
        body_html=body_html,
        next_attempt_at=now,
        created_at=now,
        deliver_until=deliver_until or default_deliver_until(now),
        related_label=related_label,
        **_sandbox_kept(to, now),
    )


def email_queued(email: OutboundEmail) -> None:
    """``email_build``'s row has been INSERTed in the caller's transaction: send
    it after commit (a sandbox row is kept, never sent)."""
    if email.status == EmailStatus.PENDING:
        transaction.on_commit(partial(_publish_send, email.pk))


SANDBOX_NOT_SENT = "Not sent: a sandbox address (no email leaves the sandbox)."


def _sandbox_kept(to, now):
    """An email to the sandbox's domain is kept here and never sent (glossary
    "Sandbox": no real email leaves it); it counts as sent, as a live one would."""
    if not is_sandbox_address(to):
        return {}
    return {"status": EmailStatus.SENT, "sent_at": now, "last_error": SANDBOX_NOT_SENT}


def emails_queue_many(*, kind: str, items, now) -> list[OutboundEmail]:
    """Queue one kind of email to many recipients in one INSERT (set-based sweeps).

    ``items`` are ``(to, language, context, related_label)``. As with
    ``email_queue`` the rows belong to the caller's transaction; after commit
    one relay task sends them all (the beat relay covers a lost publish).
    """
    rows = []
    for to, language, context, related_label in items:
        language = _supported_language(language)
        subject, body_text, body_html = email_render(kind=kind, language=language, context=context)
        rows.append(
            OutboundEmail(
                kind=kind,
                language=language,
                to_address=to,
                subject=subject,
                body_text=body_text,
                body_html=body_html,
                next_attempt_at=now,
                created_at=now,
                deliver_until=default_deliver_until(now),
                related_label=related_label,
                **_sandbox_kept(to, now),
            )
        )
    created = OutboundEmail.objects.bulk_create(rows, batch_size=500)
    if created:
        transaction.on_commit(_publish_relay)
    return created


def email_render(*, kind: str, language: str, context: dict) -> tuple[str, str, str]:
    """Subject, text body and HTML body of one kind of email in one language.

    Templates live in ``emails/<kind>/<language>/``; a language without its
    own templates uses the English ones (still rendered in ``language``, so
    ``{% translate %}`` strings and dates follow it).
    """
    folder = _template_folder(kind, language)
    context = {**context, "site_url": settings.SITE_URL}
    with translation.override(language):
        subject = _render_text(f"{folder}/subject.txt", context)
        body_text = _render_text(f"{folder}/body.txt", context)
        body_html = get_template(f"{folder}/body.html").render(context)
    # Headers cannot carry line breaks; a template's trailing newline is not meant.
    subject = " ".join(subject.split())
    _check_conventions(kind, body_text, body_html)
    return subject, body_text.strip() + "\n", body_html


def _supported_language(language):
    # "es-MX" is sent as "es"; a language the portal does not offer, in English.
    try:
        return translation.get_supported_language_variant(language)
    except LookupError:
        return FALLBACK_LANGUAGE


def _template_folder(kind, language):
    folder = f"emails/{kind}/{language}"
    try:
        get_template(f"{folder}/subject.txt")
    except TemplateDoesNotExist:
        return f"emails/{kind}/{FALLBACK_LANGUAGE}"
    return folder


def _render_text(name, context):
    # Plain text must not be HTML-escaped ("AT&T", not "AT&amp;T").
    template = get_template(name).template
    return template.render(Context(context, autoescape=False))


def _check_conventions(kind, body_text, body_html):
    """Fail loudly (in the tests of each kind) on an email that breaks the rules."""
    report_url = settings.SITE_URL + REPORT_PATH
    if report_url not in body_text or report_url not in body_html:
        raise ValueError(f"email kind {kind!r} lacks the report link {report_url}")
    if "<img" in body_html.lower():
        raise ValueError(f"email kind {kind!r} has an image; emails carry none")


def _publish_relay():
    from outbox.tasks import relay_pending_emails  # tasks import this module

    try:
        relay_pending_emails.delay()
    except Exception as exc:  # any broker failure; the beat relay is the fallback
        logger.warning("outbox: could not publish a relay (%s); beat will send", type(exc).__name__)


# One web process publishes at most one send per kick window: with each send
# it publishes a relay due at the window's end, and the emails committed in the
# window (less a margin for the clocks of web and worker) are left to that
# relay, which sends every due row when it runs. Under load that is one broker
# round trip per window instead of one per email; an email waits at most the
# window. A relay that never runs (broker or worker lost) is the beat relay's,
# as a lost send is: the outbox row is the truth, the publish only a kick.
KICK_WINDOW = timedelta(seconds=1)
KICK_CLOCK_MARGIN = timedelta(milliseconds=250)
# (published at, relay covers commits until): this process's last relay.
_relay_kicked = [None, None]


def _publish_send(email_id):
    """Hand the send to the broker; if the broker is down, leave it to the sweep.

    The row is committed already, so a failure here must not fail the request.
    The log names the row only: never the address or the content. A relay this
    process published and that runs after this commit sends the row instead
    (``KICK_WINDOW``).
    """
    from outbox.tasks import relay_pending_emails, send_email  # tasks import this module

    now = timezone.now()
    eager = send_email.app.conf.task_always_eager  # a relay run at once covers nothing later
    published_at, covered_until = _relay_kicked
    if not eager and covered_until is not None and published_at <= now < covered_until:
        return
    try:
        send_email.delay(email_id)
    except Exception as exc:  # any broker failure; the sweep is the fallback
        logger.warning(
            "outbox: could not publish email %s (%s: %s); the sweep will send it",
            email_id,
            type(exc).__name__,
            exc,
        )
        return
    if eager:
        return
    try:
        relay_pending_emails.apply_async(eta=now + KICK_WINDOW)
    except Exception as exc:  # the send went; the next email kicks again
        logger.warning("outbox: could not publish a relay (%s)", type(exc).__name__)
        return
    _relay_kicked[:] = [now, now + KICK_WINDOW - KICK_CLOCK_MARGIN]


# --- Claiming -----------------------------------------------------------------


def _due(now):
    # Pending rows past their backoff, and sending rows whose lease ran out.
    return Q(status__in=UNSENT_STATUSES, next_attempt_at__lte=now, deliver_until__gt=now)


def email_claim(*, email_id, now) -> str | None:
    """Claim one due row for one lease; return the claim token, or None if it was not ours."""
    token = secrets.token_hex(16)
    claimed = OutboundEmail.objects.filter(_due(now), pk=email_id).update(
        status=EmailStatus.SENDING,
        claim_token=token,
        claimed_at=now,
        next_attempt_at=now + claim_lease(),
        attempts=F("attempts") + 1,
    )
    return token if claimed else None


def emails_fail_undeliverable(*, now) -> int:
    """Unsent rows whose ``deliver_until`` passed fail, visibly, in one UPDATE.

    A row still inside a live claim is left to its worker; it fails here once
    its lease has ended too.
    """
    return OutboundEmail.objects.filter(
        # For a sending row next_attempt_at is the end of its lease.
        status__in=UNSENT_STATUSES,
        deliver_until__lte=now,
        next_attempt_at__lte=now,
    ).update(
        status=EmailStatus.FAILED,
        claim_token="",
        last_error=Concat(
            F("last_error"),
            Value(" — not delivered before it stopped being useful; no further attempts."),
        ),
    )


# --- Sending -------------------------------------------------------------------


def email_send(*, email_id, now) -> bool:
    """Claim and send one email now if it is due; True when it went out.

    A row that is sent, failed, claimed by another worker or waiting out its
    backoff is left alone, so calling this twice never sends it twice at once.
    """
    token = email_claim(email_id=email_id, now=now)
    if token is None:
        return False
    email = OutboundEmail.objects.get(pk=email_id)
    return _deliver(email, token=token, now=now)


def emails_relay_pending(*, now, limit: int = 500) -> int:
    """The sweep: send due rows one claim at a time; return how many went out.

    Each row is claimed just before it is sent, for one lease, so a worker
    that dies mid-sweep strands one row for minutes and the rest stay due
    for the next worker. ``now`` is the sweep's start: rows that become due
    while it runs wait for the next sweep.
    """
    emails_fail_undeliverable(now=now)
    sent = handled = 0
    while handled < limit:
        window = list(
            OutboundEmail.objects.filter(_due(now))
            .order_by("next_attempt_at", "pk")
            .values_list("pk", flat=True)[: min(RELAY_WINDOW, limit - handled)]
        )
        if not window:
            break
        for email_id in window:
            handled += 1
            token = email_claim(email_id=email_id, now=now)
            if token is not None:  # else another worker took it meanwhile
                sent += _deliver(OutboundEmail.objects.get(pk=email_id), token=token, now=now)
    return sent


def _deliver(email, *, token, now):
    try:
        _transmit(email)
    except Exception as exc:  # every failure is recorded on the row, never lost
        _record_failure(email, token=token, exc=exc, now=now)
        return False
    # The only window for a duplicate: the server has the message, the row
    # does not say so yet. One UPDATE, nothing else in between.
    _mark(email.pk, token, status=EmailStatus.SENT, sent_at=now, last_error="")
    return True


def message_id(email) -> str:
    """The same Message-ID on every attempt of one row (RFC 5322 § 3.6.4)."""
    domain = parseaddr(settings.DEFAULT_FROM_EMAIL)[1].rpartition("@")[2] or "localhost"
    return f"<outbox.{email.pk}.{email.created_at:%Y%m%d%H%M%S}@{domain}>"


def _transmit(email):
    # Link tokens are rebuilt only here, at the moment of sending: the row
    # itself holds placeholders (smt_portal.sealed_tokens), never a token.
    message = EmailMultiAlternatives(
        subject=email.subject,
        body=unseal(email.body_text),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[email.to_address],
        headers={"Message-ID": message_id(email)},
        connection=get_connection(timeout=send_timeout_seconds()),
    )
    message.attach_alternative(unseal(email.body_html), "text/html")
    message.send()


def _record_failure(email, *, token, exc, now):
    error = f"{type(exc).__name__}: {exc}"[:2000]
    # The address is on the row for staff; the log carries the id only.
    logger.warning(
        "outbox: email %s attempt %s failed (%s)", email.pk, email.attempts, type(exc).__name__
    )
    retry_at = now + backoff_delay(email.attempts)
    if _is_permanent(exc):
        _mark(email.pk, token, status=EmailStatus.FAILED, last_error=error)
    elif retry_at >= email.deliver_until:
        _mark(
            email.pk,
            token,
            status=EmailStatus.FAILED,
            last_error=f"{error} — the next attempt would come after the email stopped "
            "being useful; no further attempts.",
        )
    else:
        _mark(email.pk, token, status=EmailStatus.PENDING, next_attempt_at=retry_at,
              last_error=error)  # fmt: skip


def smtp_reply_codes(exc) -> list[int]:
    """The SMTP reply codes an exception carries: one per refused recipient, or
    the server's one reply; none for connection errors and time-outs."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return [code for code, _message in exc.recipients.values()]
    if isinstance(exc, smtplib.SMTPResponseException):
        return [exc.smtp_code]
    return []


def _is_permanent(exc):
    """Failures that another attempt cannot fix: a 5xx reply refusing the
    recipient or the message. A 4xx reply (greylisting, a full or busy
    mailbox) asks to try again later. Connection, time-out, sender and
    authentication errors are ours or the relay's to fix, so those rows keep
    retrying until their ``deliver_until``."""
    if not isinstance(exc, smtplib.SMTPRecipientsRefused | smtplib.SMTPDataError):
        return False
    return any(500 <= code < 600 for code in smtp_reply_codes(exc))


def backoff_delay(attempts: int) -> timedelta:
    """Wait after the given number of failed attempts: 1, 2, 4 … minutes, at most an hour."""
    doublings = min(max(attempts - 1, 0), 16)  # 2**16 minutes is past the cap already
    return min(BACKOFF_BASE * 2**doublings, BACKOFF_CAP)


def _mark(email_id, token, **values):
    # Only the holder of the claim records the outcome.
    changed = OutboundEmail.objects.filter(
        pk=email_id, status=EmailStatus.SENDING, claim_token=token
    ).update(claim_token="", **values)
    if not changed:
        logger.warning("outbox: email %s was taken over before its outcome was recorded", email_id)
    return bool(changed)


# --- Staff ---------------------------------------------------------------------


def email_retry(*, email_id, now) -> bool:
    """Give a failed email a fresh set of attempts, starting now; True if it was failed.

    Staff decide that it is still worth sending: it gets a new delivery window.
    """
    reset = OutboundEmail.objects.filter(pk=email_id, status=EmailStatus.FAILED).update(
        status=EmailStatus.PENDING,
        attempts=0,
        next_attempt_at=now,
        deliver_until=default_deliver_until(now),
        claim_token="",
    )
    if reset:
        transaction.on_commit(partial(_publish_send, email_id))
    return bool(reset)
