"""Queue, claim, send and retry transactional email.

Every email is a row written in the caller's transaction (``email_queue``); a
Celery task sends it after commit. When the broker or the worker is down the
row simply waits: the beat sweep (``emails_relay_pending``) sends whatever is
due. Rows are claimed by conditional UPDATEs, so two workers, a Celery retry
and the sweep never send one email twice.
"""

import logging
import secrets
import smtplib
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import transaction
from django.db.models import F, Q
from django.template import Context, TemplateDoesNotExist
from django.template.loader import get_template
from django.utils import translation

from outbox.models import UNSENT_STATUSES, EmailStatus, OutboundEmail
from smt_portal.sealed_tokens import unseal

logger = logging.getLogger(__name__)

FALLBACK_LANGUAGE = "en"
MAX_ATTEMPTS = 8
BACKOFF_BASE = timedelta(minutes=1)
BACKOFF_CAP = timedelta(hours=1)
# A claim older than this belonged to a worker that died mid-send. It is far
# longer than SEND_TIMEOUT, so a live worker never loses its row mid-send.
CLAIM_TIMEOUT = timedelta(minutes=15)
SEND_TIMEOUT_SECONDS = 30
REPORT_PATH = "/report/"


# --- Queueing ---------------------------------------------------------------


def email_queue(
    *, kind: str, to: str, language: str, context: dict, now, related_label: str = ""
) -> OutboundEmail:
    """Render the email and store it; it is sent after the caller's commit.

    Call it inside the transaction of the change that causes the email: if
    that transaction rolls back, the row and the send vanish with it. Outside
    a transaction the row commits at once and the send is scheduled at once.
    """
    language = _supported_language(language)
    subject, body_text, body_html = email_render(kind=kind, language=language, context=context)
    email = OutboundEmail.objects.create(
        kind=kind,
        language=language,
        to_address=to,
        subject=subject,
        body_text=body_text,
        body_html=body_html,
        next_attempt_at=now,
        created_at=now,
        related_label=related_label,
    )
    transaction.on_commit(partial(_publish_send, email.pk))
    return email


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
                related_label=related_label,
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


def _publish_send(email_id):
    """Hand the send to the broker; if the broker is down, leave it to the sweep.

    The row is committed already, so a failure here must not fail the request.
    The log names the row only: never the address or the content.
    """
    from outbox.tasks import send_email  # tasks import this module

    try:
        send_email.delay(email_id)
    except Exception as exc:  # any broker failure; the sweep is the fallback
        logger.warning(
            "outbox: could not publish email %s (%s: %s); the sweep will send it",
            email_id,
            type(exc).__name__,
            exc,
        )


# --- Claiming -----------------------------------------------------------------


def _due(now):
    # Pending rows past their backoff, and sending rows whose claim expired.
    return Q(status__in=UNSENT_STATUSES, next_attempt_at__lte=now, attempts__lt=MAX_ATTEMPTS)


def _claim_values(token, now):
    return {
        "status": EmailStatus.SENDING,
        "claim_token": token,
        "claimed_at": now,
        "next_attempt_at": now + CLAIM_TIMEOUT,
        "attempts": F("attempts") + 1,
    }


def email_claim(*, email_id, now) -> str | None:
    """Claim one due row; return the claim token, or None if it was not ours."""
    token = secrets.token_hex(16)
    claimed = OutboundEmail.objects.filter(_due(now), pk=email_id).update(
        **_claim_values(token, now)
    )
    return token if claimed else None


def emails_claim_due(*, now, limit: int) -> str | None:
    """Claim up to ``limit`` due rows under one token; return it, or None.

    The UPDATE re-checks the due condition row by row, so a row another
    worker claimed between our SELECT and our UPDATE is skipped, not shared.
    """
    ids = list(
        OutboundEmail.objects.filter(_due(now))
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
    if not ids:
        return None
    token = secrets.token_hex(16)
    claimed = OutboundEmail.objects.filter(_due(now), pk__in=ids).update(
        **_claim_values(token, now)
    )
    return token if claimed else None


def _fail_abandoned_last_attempts(now):
    """A worker died during a row's last allowed attempt: it will not be tried again."""
    return OutboundEmail.objects.filter(
        status=EmailStatus.SENDING, next_attempt_at__lte=now, attempts__gte=MAX_ATTEMPTS
    ).update(
        status=EmailStatus.FAILED,
        claim_token="",
        last_error="The worker stopped during the last attempt.",
    )


# --- Sending -------------------------------------------------------------------


def email_send(*, email_id, now) -> bool:
    """Claim and send one email now if it is due; True when it went out.

    A row that is sent, failed, claimed by another worker or waiting out its
    backoff is left alone, so calling this twice never sends twice.
    """
    token = email_claim(email_id=email_id, now=now)
    if token is None:
        return False
    email = OutboundEmail.objects.get(pk=email_id)
    return _deliver(email, token=token, now=now)


def emails_relay_pending(*, now, limit: int = 500) -> int:
    """The sweep: claim due rows in one UPDATE, send each; return how many went out."""
    _fail_abandoned_last_attempts(now)
    token = emails_claim_due(now=now, limit=limit)
    if token is None:
        return 0
    sent = 0
    for email in OutboundEmail.objects.filter(claim_token=token).order_by("pk"):
        # A long batch may outlive a claim; skip a row another worker took over.
        if _still_ours(email.pk, token):
            sent += _deliver(email, token=token, now=now)
    return sent


def _still_ours(email_id, token):
    return OutboundEmail.objects.filter(
        pk=email_id, status=EmailStatus.SENDING, claim_token=token
    ).exists()


def _deliver(email, *, token, now):
    try:
        _transmit(email)
    except Exception as exc:  # every failure is recorded on the row, never lost
        _record_failure(email, token=token, exc=exc, now=now)
        return False
    _mark(email.pk, token, status=EmailStatus.SENT, sent_at=now, last_error="")
    return True


def _transmit(email):
    # Link tokens are rebuilt only here, at the moment of sending: the row
    # itself holds placeholders (smt_portal.sealed_tokens), never a token.
    message = EmailMultiAlternatives(
        subject=email.subject,
        body=unseal(email.body_text),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[email.to_address],
        connection=get_connection(timeout=SEND_TIMEOUT_SECONDS),
    )
    message.attach_alternative(unseal(email.body_html), "text/html")
    message.send()


def _record_failure(email, *, token, exc, now):
    error = f"{type(exc).__name__}: {exc}"[:2000]
    # The address is on the row for staff; the log carries the id only.
    logger.warning(
        "outbox: email %s attempt %s failed (%s)", email.pk, email.attempts, type(exc).__name__
    )
    if _is_permanent(exc) or email.attempts >= MAX_ATTEMPTS:
        _mark(email.pk, token, status=EmailStatus.FAILED, last_error=error)
    else:
        _mark(
            email.pk,
            token,
            status=EmailStatus.PENDING,
            next_attempt_at=now + backoff_delay(email.attempts),
            last_error=error,
        )


def _is_permanent(exc):
    """Failures that another attempt cannot fix: the server refused the address
    or the message itself (5xx). Connection and authentication errors are
    ours to fix, so those rows keep retrying."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return True
    return isinstance(exc, smtplib.SMTPDataError) and 500 <= exc.smtp_code < 600


def backoff_delay(attempts: int) -> timedelta:
    """Wait after the given number of failed attempts: 1, 2, 4 … minutes, at most an hour."""
    return min(BACKOFF_BASE * 2 ** max(attempts - 1, 0), BACKOFF_CAP)


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
    """Give a failed email a fresh set of attempts, starting now; True if it was failed."""
    reset = OutboundEmail.objects.filter(pk=email_id, status=EmailStatus.FAILED).update(
        status=EmailStatus.PENDING, attempts=0, next_attempt_at=now, claim_token=""
    )
    if reset:
        transaction.on_commit(partial(_publish_send, email_id))
    return bool(reset)
