"""The event seam: state changes emit events; notifications subscribe.

A service that changes something a CSP must be told about calls
``events_emit`` inside the transaction of the change. The event rows are the
CSP's event feed; then every subscriber runs, in the same transaction, with
the new rows (webhook deliveries are queued that way, so an event and its
deliveries commit — or vanish — with the change). Subscribers register in
their app's ``ready()`` with ``events_subscribe``; the emitting service knows
none of them.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models.base import ModelState

from .models import CspEvent

_subscribers: list[Callable[[list[CspEvent]], None]] = []


@dataclass(frozen=True)
class EventDraft:
    csp_id: int
    type: str
    data: dict
    agreement_id: int | None = None
    sandbox: bool = False  # of a sandbox agreement (glossary "Sandbox")


def events_subscribe(subscriber: Callable[[list[CspEvent]], None]) -> None:
    """Run ``subscriber(events)`` after every emit, inside the emitting transaction."""
    if subscriber not in _subscribers:
        _subscribers.append(subscriber)


def events_emit(*, drafts: Iterable[EventDraft], now) -> list[CspEvent]:
    """Store the events (one INSERT) and hand them to every subscriber."""
    rows = [
        CspEvent(
            csp_id=draft.csp_id,
            type=draft.type,
            agreement_id=draft.agreement_id,
            sandbox=draft.sandbox,
            occurred_at=now,
            data=draft.data,
        )
        for draft in drafts
    ]
    if not rows:
        return []
    with transaction.atomic():
        created = CspEvent.objects.bulk_create(rows, batch_size=1000)
        for subscriber in list(_subscribers):
            subscriber(created)
    return created


# The columns ``events_emit_select`` reads back: everything but ``data``, which
# stays in the database (a subscriber that reads it loads it, as for any deferred field).
_RETURNED = ("id", "csp_id", "type", "agreement_id", "sandbox", "occurred_at")


def events_emit_select(*, select_sql: str, params: dict, now) -> list[CspEvent]:
    """Store the events a SELECT yields, in one ``INSERT … SELECT`` (PostgreSQL).

    ``select_sql`` yields ``csp_id, type, agreement_id, sandbox, data`` (a
    ``jsonb``) with named ``%(…)s`` parameters; rows get ids in
    ``agreement_id`` order. Every subscriber then runs with the new rows, as
    after ``events_emit`` — for set-based writers whose payloads are built
    by the database rather than serialized row by row in Python.
    """
    sql = (
        "INSERT INTO csp_registry_cspevent"  # noqa: S608 (the caller's SQL, its values bound)
        " (csp_id, type, agreement_id, sandbox, data, occurred_at)"
        " SELECT s.csp_id, s.type, s.agreement_id, s.sandbox, s.data, %(events_occurred_at)s"
        f" FROM ({select_sql}) AS s ORDER BY s.agreement_id"
        f" RETURNING {', '.join(_RETURNED)}"
    )
    with transaction.atomic():
        with connection.cursor() as cursor:
            # Compiling a wide jsonb expression (JIT) costs PostgreSQL seconds,
            # more than running it: off for this statement, then as it was.
            cursor.execute("SELECT current_setting('jit'), set_config('jit', 'off', true)")
            [(jit, _)] = cursor.fetchall()
            cursor.execute(sql, {**params, "events_occurred_at": now})
            rows = sorted(cursor.fetchall())
            cursor.execute("SELECT set_config('jit', %s, true)", [jit])
        alias = connection.alias  # once: the proxy's lookup costs 10 µs a row
        created = [_loaded(row, alias) for row in rows]
        if created:
            for subscriber in list(_subscribers):
                subscriber(created)
    return created


def _loaded(row, alias) -> CspEvent:
    """``CspEvent.from_db`` with ``data`` deferred, without ``Model.__init__``'s
    per-field walk (a sweep hands subscribers a million of these)."""
    event = CspEvent.__new__(CspEvent)
    event.__dict__.update(zip(_RETURNED, row, strict=True))
    event._state = ModelState()
    event._state.adding = False
    event._state.db = alias
    return event


def event_payload(event: CspEvent) -> dict:
    """The event as CSPs receive it, by webhook and in the feed (contract, "Webhooks")."""
    return {
        "id": event.public_id,
        "type": event.type,
        "timestamp": event.occurred_at.isoformat(),
        "data": event.data,
    }
