"""The time-driven changes (R24): unanswered requests time out, terms end."""

from smt_portal.actors import Actor

from ..models import (
    Agreement,
    AgreementStatus,
    EndedBy,
    RecordEvent,
)
from ..transitions import agreements_transition

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
