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

from django.db import DatabaseError, transaction
from django.db.models import Max, Min

from affirmations.events import agreement_representation, agreements_for_representation
from affirmations.models import Agreement, AgreementPremise, AgreementStatus
from affirmations.rules import DataWindow, can_end, data_window
from csp_registry.events import EventDraft, events_emit
from csp_registry.models import CspStatus, EventType
from premises import models as premise_models  # TEMP until IntervalWrite lands
from premises.models import Premise

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


def data_read_authorise(*, csp, agreement_id, esi_id, start: date, end: date, now) -> DataGrant:
    """The agreement, premise and window that let ``csp`` read ``esi_id`` for
    ``start``..``end`` now; ``DataRefused`` otherwise.

    Another CSP's agreement is not found (404), as an unknown one; one not
    active is 409; an ESI ID outside it is 400; a range reaching outside the
    data window is refused whole (422, with the window that is allowed).
    """
    agreement = (
        Agreement.objects.select_related("csp").filter(pk=agreement_id, csp=csp).first()
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
        DataAccessLog.objects.create(
            created_at=draft.created_at, csp_id=draft.csp_id, key_prefix=draft.key_prefix[:8],
            agreement_id=draft.agreement_id, esi_id=draft.esi_id[:22],
            premise_id=draft.premise_id, kind=draft.kind, format=draft.format,
            start=draft.start, end=draft.end, status_code=draft.status_code,
            error_code=draft.error_code[:50], days=draft.days, intervals=draft.intervals,
            revision_latest=draft.revision_latest, etag=draft.etag,
            completed=draft.completed, ip=draft.ip,
        )  # fmt: skip
    except DatabaseError:
        logger.warning("could not record a data read of agreement %s", draft.agreement_id)


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


def data_available_emit(*, batch, now) -> int:
    """One ``data.available`` event per agreement that may read new days of ``batch``.

    Set-based: one grouped query joins the batch's written premises to the
    open agreements covering them; events carry the agreement as the API shows
    it, with the ESI IDs and the range of days written. The batch's rows are
    deleted in the same transaction, so a batch is announced once.
    """
    with transaction.atomic():
        writes = premise_models.IntervalWrite.objects.select_for_update(skip_locked=True)
        writes = writes.filter(batch=batch)
        if not writes.exists():
            return 0
        pairs = (
            AgreementPremise.objects.filter(
                premise_id__in=writes.values("premise_id"), is_open=True,
                agreement__status=AgreementStatus.ACTIVE, agreement__term_end__gt=now,
                agreement__csp__status=CspStatus.ACTIVE,
            )
            .values("agreement_id", "esi_id", "premise_id")
            .order_by("agreement_id", "esi_id")
        )  # fmt: skip
        ranges = {
            row["premise_id"]: (row["first"], row["last"])
            for row in writes.values("premise_id")
            .annotate(first=Min("first_day"), last=Max("last_day"))
            .order_by()
        }
        per_agreement = {}
        for pair in pairs:
            first, last = ranges[pair["premise_id"]]
            found = per_agreement.setdefault(pair["agreement_id"], [[], first, last])
            found[0].append(pair["esi_id"])
            found[1], found[2] = min(found[1], first), max(found[2], last)
        emitted = _data_available_events(per_agreement, now)
        writes.delete()
    return emitted


def _data_available_events(per_agreement, now) -> int:
    ids = sorted(per_agreement)
    emitted = 0
    for offset in range(0, len(ids), 2000):
        drafts = []
        for agreement in agreements_for_representation(ids[offset : offset + 2000]):
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
                    data={
                        "agreement": agreement_representation(agreement),
                        "esi_ids": esi_ids,
                        "start": start.isoformat(),
                        "end": last.isoformat(),
                    },
                )
            )
        emitted += len(events_emit(drafts=drafts, now=now))
    return emitted


def data_available_sweep(*, now) -> int:
    """Announce batches whose import ended without announcing them (a crash)."""
    batches = (
        premise_models.IntervalWrite.objects.filter(written_at__lte=now - LEFT_BEHIND_AFTER)
        .values_list("batch", flat=True)
        .distinct()
    )
    return sum(data_available_emit(batch=batch, now=now) for batch in list(batches))


def on_intervals_written(*, batch, now):
    """The premises' seam: an import finished writing ``batch``."""
    try:
        data_available_emit(batch=batch, now=now)
    except DatabaseError:
        # The rows stay; the sweep announces them.
        logger.exception("could not announce data.available for batch %s", batch)
