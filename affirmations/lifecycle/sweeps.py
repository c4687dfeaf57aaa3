"""The time-driven changes (R24): unanswered requests time out, terms end,
customers are reminded that they share."""

from datetime import timedelta

from django.db import transaction
from django.db.models import Q

from premises.models import TermPolicy
from smt_portal.actors import Actor

from .. import emails
from ..models import (
    Agreement,
    AgreementStatus,
    EndedBy,
    RecordEvent,
)
from ..records import Entry, records_append_many
from ..transitions import agreements_transition
from .links import termination_links_new_many

# Reminders are locked, emailed and recorded this many agreements at a time.
REMINDER_CHUNK = 1000

# --- Sweeps (Celery beat; ``manage.py run_jobs``) --------------------------------------


def agreements_time_out(*, now):
    """Every request still pending after its deadline → ``timed_out`` (R9).

    Set-based: the rows are locked and read once (their ids go into the
    record), then changed with one UPDATE. Selecting by the deadline column
    means a missed run simply catches up. Returns how many timed out.
    """
    due = Agreement.objects.filter(
        status=AgreementStatus.PENDING_AFFIRMATION, affirmation_expires_at__lt=now
    )
    return _sweep(
        due, to_status=AgreementStatus.TIMED_OUT, event=RecordEvent.TIMED_OUT,
        reason="No answer within five weekdays.", now=now,
    )  # fmt: skip


def agreements_end_terms(*, now):
    """Every active agreement whose term has run out → ``term_ended``, with a
    receipt to each customer."""
    due = Agreement.objects.filter(status=AgreementStatus.ACTIVE, term_end__lte=now)
    return _sweep(
        due, to_status=AgreementStatus.TERM_ENDED, event=RecordEvent.TERM_ENDED,
        reason="The term ran out.", now=now,
    )  # fmt: skip


def _sweep(due, *, to_status, event, reason, now):
    moved = agreements_transition(
        due=due, to_status=to_status, record_event=event, actor=Actor.system(), now=now,
        ended_by=EndedBy.SYSTEM, reason=reason,
    )  # fmt: skip
    return len(moved)


def agreements_remind_sharing(*, now):
    """Reminders (glossary): every active agreement's customer is told "you are
    still sharing with X; here is how to stop" every ``sharing_reminder_days``
    of the term, and once ``term_end_notice_days`` before the term ends (the
    staff-set periods of ``TermPolicy``). Each email carries a new termination
    link (its GET changes nothing; the page's POST ends the sharing).

    Set-based, by the due-date columns: a few queries per chunk whatever its
    size, and a missed run catches up. Returns how many reminders were queued.
    """
    policy = TermPolicy.current()
    every = timedelta(days=policy.sharing_reminder_days)
    notice = timedelta(days=policy.term_end_notice_days)
    active = Agreement.objects.filter(status=AgreementStatus.ACTIVE, term_end__gt=now)
    # The notice before the end stands in for a periodic reminder that would fall
    # inside the same window; the periodic cycle starts again after it.
    ending = active.filter(term_end__lte=now + notice, term_end_notice_sent_at__isnull=True)
    periodic = active.filter(term_end__gt=now + notice).filter(
        Q(next_sharing_reminder_at__lte=now)
        # Agreements made before reminders existed: due a period after the term started.
        | Q(next_sharing_reminder_at__isnull=True, term_start__lte=now - every)
    )
    sent = _remind(
        ending,
        ending=True,
        now=now,
        columns={"term_end_notice_sent_at": now, "next_sharing_reminder_at": now + every},
    )
    sent += _remind(periodic, ending=False, now=now,
                    columns={"next_sharing_reminder_at": now + every})  # fmt: skip
    return sent


def _remind(due, *, ending, columns, now):
    sent = 0
    while True:
        with transaction.atomic():
            ids = list(
                due.select_for_update().order_by("pk").values_list("pk", flat=True)[:REMINDER_CHUNK]
            )
            if not ids:
                return sent
            chunk = list(
                Agreement.objects.filter(pk__in=ids)
                .select_related("csp")
                .prefetch_related("premises")
                .order_by("pk")
            )
            urls = termination_links_new_many(chunk, now=now)
            emails.emails_sharing_reminder_many(
                reminders=[(agreement, urls[agreement.pk], ending) for agreement in chunk], now=now
            )
            # The rows are locked; moving their due dates takes them out of ``due``.
            Agreement.objects.filter(pk__in=ids).update(**columns)
            kind = "term_end_notice" if ending else "periodic"
            records_append_many(
                entries=[
                    Entry(event=RecordEvent.SHARING_REMINDED, agreement_id=agreement.pk,
                          csp_id=agreement.csp_id, details={"kind": kind})
                    for agreement in chunk
                ],
                actor=Actor.system(), now=now,
            )  # fmt: skip
            sent += len(chunk)
