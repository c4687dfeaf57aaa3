"""The one function that writes an agreement's status.

``agreements_transition`` locks the agreements it is given, checks they are
still in a status the change starts from, writes the new status (and, for a
final status, closes their premises and pending renewals), appends one record
and emits one CSP event per agreement — all in one transaction. Single
decisions and million-row sweeps go through it alike: every UPDATE and INSERT
is set-based, so a sweep costs a few statements per chunk, not per row.

Callers say what the change means (``record_event``, ``ended_by``, extra
columns and details); the rules of who may do what live with them. What
follows from a change is subscribed, not called: the customer's emails
(``affirmations.notifications``, registered in ``AffirmationsConfig.ready``)
and, through the CSP events, webhooks.
"""

from collections.abc import Callable
from typing import NamedTuple

from django.db import transaction

from smt_portal.actors import Actor

from .events import agreement_events_emit
from .models import (
    OPEN_STATUSES,
    AgreementPremise,
    AgreementStatus,
    Renewal,
    RenewalStatus,
)
from .records import Entry, records_append_many

# Records are appended in chunks so a million rows never sit in memory at once.
RECORD_CHUNK = 5000

_subscribers = []


def transitions_subscribe(subscriber) -> None:
    """Call ``subscriber(moved, record_event=, now=)`` after every status change is
    written; it may return extra record details per agreement id (an email's id)."""
    if subscriber not in _subscribers:
        _subscribers.append(subscriber)


class Moved(NamedTuple):
    """One agreement that changed: its id, CSP and the status it left (a
    tuple: a sweep makes a million)."""

    agreement_id: int
    csp_id: int
    from_status: str


def agreements_transition(
    *,
    due,
    to_status: str,
    record_event: str,
    actor: Actor,
    now,
    ended_by: str = "",
    reason: str = "",
    columns: dict | None = None,
    details: dict | None = None,
    after_update: Callable[[list[Moved]], dict[int, dict]] | None = None,
) -> list[Moved]:
    """Move every agreement of the queryset ``due`` that is still open to ``to_status``.

    ``columns`` are further columns of the agreements' UPDATE; ``details`` go
    into every record; ``after_update(moved)`` runs once the status is written
    (to queue emails) and may return extra details per agreement id. Returns
    the agreements moved (none when another transaction got there first).
    """
    with transaction.atomic():
        due = due.filter(status__in=OPEN_STATUSES)
        rows = list(due.select_for_update().order_by("pk").values_list("pk", "csp_id", "status"))
        if not rows:
            return []
        moved = [Moved._make(row) for row in rows]
        # The rows are locked, so the same condition changes exactly them.
        _write_status(due, to_status, ended_by, reason, now, columns or {})
        extra = {}
        for subscriber in _subscribers:
            for agreement_id, more in subscriber(moved, record_event=record_event, now=now).items():
                extra.setdefault(agreement_id, {}).update(more)
        for agreement_id, more in (after_update(moved) if after_update else {}).items():
            extra.setdefault(agreement_id, {}).update(more)
        _append_records(moved, to_status, record_event, actor, now, details or {}, extra)
        agreement_events_emit(
            agreement_ids=[m.agreement_id for m in moved], record_event=record_event, now=now
        )
    return moved


def _write_status(due, to_status, ended_by, reason, now, columns):
    if to_status in OPEN_STATUSES:
        due.update(status=to_status, **columns)
        return
    ids = due.values("pk")
    AgreementPremise.objects.filter(agreement__in=ids, is_open=True).update(is_open=False)
    Renewal.objects.filter(agreement__in=ids, status=RenewalStatus.PENDING).update(
        status=RenewalStatus.CANCELLED, decided_at=now
    )
    due.update(status=to_status, ended_at=now, ended_by=ended_by, end_reason=reason, **columns)


def _append_records(moved, to_status, record_event, actor, now, details, extra):
    # Agreements with no details of their own share one dict per status they
    # left: the record serialises each distinct dict once, not once per row.
    shared = {}
    for start in range(0, len(moved), RECORD_CHUNK):
        entries = []
        for agreement_id, csp_id, from_status in moved[start : start + RECORD_CHUNK]:
            more = extra.get(agreement_id)
            row_details = shared.get(from_status) if more is None else None
            if row_details is None:
                row_details = {
                    "from_status": str(from_status),
                    "to_status": str(to_status),
                    **details,
                    **(more or {}),
                }
                if more is None:
                    shared[from_status] = row_details
            entries.append(Entry(record_event, agreement_id, csp_id, row_details))
        records_append_many(entries=entries, actor=actor, now=now)


def is_final(status) -> bool:
    return status not in OPEN_STATUSES and status in AgreementStatus.values
