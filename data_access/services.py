"""Meter data under consent: who may read what, the log of every read, and
telling CSPs that new data arrived.

- ``data_read_authorise`` applies the one rule (``affirmations.rules.data_window``)
  at read time and names the refusal the contract gives for each case.
- ``data_access_log_write`` keeps one row per read, allowed or refused.
- ``data_available_emit`` turns the premises' record of written days
  (``premises.IntervalWrite``) into one ``data.available`` event per agreement
  per import, set-based.
"""

import logging
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.db import DatabaseError, connection, transaction

from affirmations.events import agreement_representation, agreements_for_representation
from affirmations.models import Agreement, AgreementPremise, AgreementStatus
from affirmations.rules import DataWindow, can_end, data_window
from csp_registry.events import EventDraft, events_emit
from csp_registry.models import Csp, CspStatus, EventType
from premises.models import IntervalWrite, Premise

from .models import DataAccessLog

logger = logging.getLogger(__name__)

# The contract's limit on one request's range, in local days.
MAX_DAYS = 366


class DataRefused(Exception):
    """A read the rules refuse, with the contract's status, code and fields."""

    def __init__(self, status, code, message, fields=None):
        super().__init__(message)
        self.status, self.code, self.message, self.fields = status, code, message, fields or {}


@dataclass(frozen=True)
class DataGrant:
    agreement: Agreement
    premise: Premise
    window: DataWindow


def data_read_authorise(
    *, csp, agreement_id, esi_id, start: date, end: date, now, sandbox=False
) -> DataGrant:
    """The agreement, premise and window that let ``csp`` read ``esi_id`` for
    ``start``..``end`` now; ``DataRefused`` otherwise.

    Another CSP's agreement is not found (404), as an unknown one, and so is a
    sandbox agreement for a live key (``sandbox`` False) and the reverse; one not
    active is 409; an ESI ID outside it is 400; a range reaching outside the
    data window is refused whole (422, with the window that is allowed).
    """
    agreement = (
        Agreement.objects.select_related("csp")
        .filter(pk=agreement_id, csp=csp, sandbox=sandbox)
        .first()
        if agreement_id is not None
        else None
    )
    if agreement is None:
        raise DataRefused(404, "not_found", "Not found.")
    if not can_end(agreement, now) or agreement.csp.status != CspStatus.ACTIVE:
        raise DataRefused(
            409, "agreement_not_active",
            f"This agreement is {AgreementStatus(agreement.status).label.lower()}"
            + ("" if agreement.status != AgreementStatus.ACTIVE else " but its term has ended")
            + "; data is shared only while an agreement is active.",
        )  # fmt: skip
    link = (
        AgreementPremise.objects.select_related("premise")
        .filter(agreement=agreement, esi_id=esi_id)
        .first()
    )
    if link is None:
        raise DataRefused(
            400, "invalid", "The request is not valid.",
            {"esi_id": ["This ESI ID is not one of the agreement's premises."]},
        )  # fmt: skip
    window = data_window(agreement, link.premise, now)
    if window is None or window.first > window.last:
        raise DataRefused(409, "agreement_not_active", "This agreement grants no data now.")
    if not window.covers(start, end):
        raise DataRefused(
            422, "outside_data_window",
            f"The range reaches outside the data window, {window.first} to {window.last}; "
            "nothing outside it is served.",
            {"from": window.first.isoformat(), "to": window.last.isoformat()},
        )  # fmt: skip
    return DataGrant(agreement, link.premise, window)


# --- The data-access log ---------------------------------------------------------------


@dataclass
class DataAccessDraft:
    """A read being answered; counted as the body is written, stored at its end."""

    created_at: object
    kind: str
    ip: str
    csp_id: int | None = None
    key_prefix: str = ""
    agreement_id: int | None = None
    esi_id: str = ""
    premise_id: int | None = None
    format: str = ""
    start: date | None = None
    end: date | None = None
    status_code: int = 200
    error_code: str = ""
    days: int = 0
    intervals: int = 0
    revision_latest: object = None
    etag: str = ""
    completed: bool = True
    sandbox: bool = False
    written: bool = field(default=False, repr=False)

    def count(self, days):
        """Pass ``days`` (stored days) through, counting what is served."""
        for stored in days:
            self.days += 1
            self.intervals += len(stored.wh) + len(stored.surplus_wh or ())
            yield stored


def data_access_log_write(draft: DataAccessDraft) -> None:
    """Store the read (once). One INSERT per request, after its answer: the
    cost of a read of up to 36,600 readings, not one per reading. The answer
    is already decided; a database failure here loses this row, logged."""
    if draft.written:
        return
    draft.written = True
    try:
        # A savepoint: a refused row must not break a transaction around the call.
        with transaction.atomic():
            _insert(draft)
    except DatabaseError:
        logger.warning("could not record a data read of agreement %s", draft.agreement_id)


def _insert(draft):
    DataAccessLog.objects.create(
        created_at=draft.created_at, csp_id=draft.csp_id, key_prefix=draft.key_prefix[:8],
        agreement_id=draft.agreement_id, esi_id=printable(draft.esi_id)[:22],
        premise_id=draft.premise_id, kind=draft.kind, format=draft.format,
        start=draft.start, end=draft.end, status_code=draft.status_code,
        error_code=draft.error_code[:50], days=draft.days, intervals=draft.intervals,
        revision_latest=draft.revision_latest, etag=draft.etag,
        completed=draft.completed, sandbox=draft.sandbox, ip=draft.ip,
    )  # fmt: skip


def printable(text):
    """``text`` as a column can keep it (a caller's parameter may hold NUL or
    control characters, which PostgreSQL refuses in text)."""
    return "".join(ch for ch in text if ch.isprintable())


def data_reads_of_agreement(agreement, *, limit=50):
    """The reads an agreement's CSP made under it that were answered, newest first."""
    return list(
        DataAccessLog.objects.filter(agreement_id=agreement.pk, csp_id=agreement.csp_id)
        .filter(status_code__in=(200, 304))
        .order_by("-created_at", "-id")[:limit]
    )


# --- data.available --------------------------------------------------------------------

# Rows of a batch this old are taken by the sweep even if the import that wrote
# them never called its subscribers (it crashed between commit and the call).
LEFT_BEHIND_AFTER = timedelta(hours=1)


# The batch's written premises under agreements that may read them now, per
# agreement and ESI ID, with the range of days written: one grouped join.
_NEWLY_READABLE = """
    SELECT ap.agreement_id, ap.esi_id, MIN(w.first_day), MAX(w.last_day)
    FROM {writes} w
    JOIN {links} ap ON ap.premise_id = w.premise_id AND ap.is_open
    JOIN {agreements} a ON a.id = ap.agreement_id
    JOIN {csps} c ON c.id = a.csp_id
    WHERE w.batch = %s AND a.status = %s AND a.term_end > %s AND c.status = %s
    GROUP BY ap.agreement_id, ap.esi_id
    ORDER BY ap.agreement_id, ap.esi_id
"""
EVENTS_PER_CHUNK = 2000


def data_available_emit(*, batch, now) -> int:
    """One ``data.available`` event per agreement that may read new days of ``batch``.

    Set-based: the batch's rows are joined to the open agreements covering
    their premises in one grouped query, read in order and turned into events
    a chunk of agreements at a time (the agreement as the API shows it, the ESI
    IDs and the range of days written). The rows are deleted in the same
    transaction, and concurrent announcers of one batch are serialised, so a
    batch is announced once.
    """
    with transaction.atomic():
        if not _batch_claim(batch):
            return 0
        sql = _NEWLY_READABLE.format(
            writes=IntervalWrite._meta.db_table, links=AgreementPremise._meta.db_table,
            agreements=Agreement._meta.db_table, csps=Csp._meta.db_table,
        )  # fmt: skip
        params = [_batch_param(batch), AgreementStatus.ACTIVE, now, CspStatus.ACTIVE]
        emitted = 0
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            chunk = {}
            for agreement_id, esi_id, first, last in _rows(cursor):
                found = chunk.setdefault(agreement_id, [[], first, last])
                found[0].append(esi_id)
                found[1], found[2] = min(found[1], first), max(found[2], last)
                if len(chunk) > EVENTS_PER_CHUNK:
                    # Rows arrive by agreement: every one but the last is whole.
                    last_id = agreement_id
                    whole = {pk: found for pk, found in chunk.items() if pk != last_id}
                    emitted += _data_available_events(whole, now)
                    chunk = {last_id: chunk[last_id]}
            emitted += _data_available_events(chunk, now)
        IntervalWrite.objects.filter(batch=batch).delete()
    return emitted


def _batch_claim(batch) -> bool:
    """Whether ``batch`` still has rows to announce, once no other transaction is
    announcing it (PostgreSQL: a transaction-level advisory lock on the batch;
    SQLite has one writer at a time)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [str(batch)])
    return IntervalWrite.objects.filter(batch=batch).exists()


def _batch_param(batch):
    # UUIDs are stored as text on SQLite (32 hex digits) and as uuid on PostgreSQL.
    field = IntervalWrite._meta.get_field("batch")
    return field.get_db_prep_value(batch, connection)


def _rows(cursor, size=5000):
    while rows := cursor.fetchmany(size):
        # SQLite returns raw SQL's dates as text.
        for agreement_id, esi_id, first, last in rows:
            yield agreement_id, esi_id, _date(first), _date(last)


def _date(value):
    return value if isinstance(value, date) else date.fromisoformat(value)


def _data_available_events(per_agreement, now) -> int:
    ids = sorted(per_agreement)
    drafts = []
    for agreement in agreements_for_representation(ids):
        esi_ids, first, last = per_agreement[agreement.pk]
        # Only days the CSP may read are announced: none before the window.
        start = max(first, agreement.data_from) if agreement.data_from else first
        if start > last:
            continue
        drafts.append(
            EventDraft(
                csp_id=agreement.csp_id,
                type=EventType.DATA_AVAILABLE,
                agreement_id=agreement.pk,
                sandbox=agreement.sandbox,
                data={
                    "agreement": agreement_representation(agreement),
                    "esi_ids": esi_ids,
                    "start": start.isoformat(),
                    "end": last.isoformat(),
                },
            )
        )
    return len(events_emit(drafts=drafts, now=now))


def data_available_sweep(*, now) -> int:
    """Announce batches whose import ended without announcing them (a crash)."""
    batches = (
        IntervalWrite.objects.filter(written_at__lte=now - LEFT_BEHIND_AFTER)
        .values_list("batch", flat=True)
        .distinct()
    )
    return sum(data_available_emit(batch=batch, now=now) for batch in list(batches))
