"""The rules of an agreement's life, one predicate each.

The customer pages, the services, the API and the detectors all ask these
(and the detectors ask the SQL twin of ``grants_access``, built beside it and
tested against it), so "can this still be decided", "can this be renewed or
ended" and "does this agreement let its CSP read this premise's data" have
one answer each.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from csp_registry.models import CspStatus
from premises.models import Premise
from smt_portal.calendar import CENTRAL

from .models import AgreementStatus, RenewalStatus

# ``end_reason`` of an agreement ended because a new customer moved in (B13).
OCCUPANT_CHANGED = "occupant_changed"

DECIDED_STATUSES = (
    AgreementStatus.ACTIVE,
    AgreementStatus.OPTED_OUT,
    AgreementStatus.REPORTED_SPAM,
)


def affirmation_state(agreement, now):
    """What the page can offer for this request now.

    ``pending``: all three actions. ``provider_unavailable``: the provider is
    suspended (opt-out and spam report still possible: saying no needs no
    standing) or revoked (nothing left to decide). ``timed_out`` even before
    the sweep has run. ``decided``: the customer's own decision. ``closed``:
    anything else (withdrawn, later ended): the neutral page.
    """
    status = agreement.status
    if status == AgreementStatus.PENDING_AFFIRMATION:
        if agreement.affirmation_expires_at < now:
            return "timed_out"
        if made_before_move_in(agreement, premises_occupants_since(agreement)):
            return "closed"  # a new customer moved in: not theirs to decide
        if agreement.csp.status != CspStatus.ACTIVE:
            return "provider_unavailable"
        return "pending"
    if status == AgreementStatus.TIMED_OUT:
        return "timed_out"
    if status == AgreementStatus.REVOKED and agreement.csp.status == CspStatus.REVOKED:
        return "provider_unavailable"
    if status in DECIDED_STATUSES and agreement.decided_at is not None:
        return "decided"
    return "closed"


def made_before_move_in(agreement, occupants_since) -> bool:
    """The agreement was made (affirmed, or while pending requested) on a local
    date before one of its premises' ``occupant_since`` (given): by someone who
    no longer lives there (glossary, "move-in ends consent")."""
    made = agreement.affirmed_at or agreement.created_at
    made_on = made.astimezone(CENTRAL).date()
    return any(since is not None and since > made_on for since in occupants_since)


def premises_occupants_since(agreement) -> list:
    """The ``occupant_since`` of each premise of ``agreement`` (one query)."""
    return list(
        Premise.objects.filter(pk__in=agreement.premises.values("premise_id")).values_list(
            "occupant_since", flat=True
        )
    )


def renewal_state(renewal, agreement, now):
    """``pending``, ``renewed``, ``declined``, ``timed_out``, ``agreement_ended``
    (the agreement ended meanwhile) or ``provider_unavailable``."""
    if renewal.status == RenewalStatus.RENEWED:
        return "renewed"
    if renewal.status == RenewalStatus.DECLINED:
        return "declined"
    ended = agreement.status != AgreementStatus.ACTIVE or agreement.term_end <= now
    if renewal.status == RenewalStatus.CANCELLED or ended:
        return "agreement_ended"
    if renewal.status == RenewalStatus.TIMED_OUT or renewal.expires_at < now:
        return "timed_out"
    if renewal_superseded(renewal, agreement):
        # Nothing was renewed by this request; answering it now would stack terms.
        return "timed_out"
    if agreement.csp.status != CspStatus.ACTIVE:
        return "provider_unavailable"
    return "pending"


def termination_state(agreement, now):
    """``active`` (the customer can end it now) or ``ended`` (for any reason)."""
    if agreement.status == AgreementStatus.ACTIVE and agreement.term_end > now:
        return "active"
    return "ended"


def can_decide(agreement, now) -> bool:
    """The customer may still opt in, out or report spam (a suspended provider
    cannot be opted into: ``affirmation_state`` says which)."""
    return agreement.status == AgreementStatus.PENDING_AFFIRMATION and (
        agreement.affirmation_expires_at >= now
    )


def can_end(agreement, now) -> bool:
    """The agreement is running: the customer, the CSP or staff may end it, and
    the CSP may ask to renew it."""
    return agreement.status == AgreementStatus.ACTIVE and agreement.term_end > now


def renewal_can_be_answered(renewal, now) -> bool:
    return renewal.status == RenewalStatus.PENDING and renewal.expires_at >= now


# --- Renewals (R12) ----------------------------------------------------------------------


def renewal_window_opens(agreement) -> datetime:
    """When the CSP may first ask to renew the current term: the same Central
    wall time ``renewal_window_days`` days before the term ends (the window
    stored with the agreement, so a later policy change never moves it)."""
    local_end = agreement.term_end.astimezone(CENTRAL)
    # Aware arithmetic in one zone keeps the wall time; UTC normalises a DST gap.
    opens = local_end - timedelta(days=agreement.renewal_window_days)
    return opens.astimezone(UTC).astimezone(CENTRAL)


def renewal_window_opens_on(agreement) -> date:
    """The local Central date the renewal window opens (the API's ``opens_on``)."""
    return renewal_window_opens(agreement).date()


def renewal_window_open(agreement, now) -> bool:
    """The CSP may ask to renew now: the last days of the current term. After a
    renewal the window is the one before the NEW term ends (one renewal per
    term), so the time left is never more than one term plus the window."""
    return renewal_window_opens(agreement) <= now


def renewal_superseded(renewal, agreement) -> bool:
    """The renewal was asked for an earlier term: the current one was renewed
    since (by another path), and answering this one would stack a second term."""
    return renewal.requested_at < renewal_window_opens(agreement)


# --- Data access (R23) ------------------------------------------------------------------


@dataclass(frozen=True)
class DataWindow:
    """The local days (inclusive) a CSP may read of one premise (glossary, "Data window")."""

    first: date
    last: date

    def covers(self, start: date, end: date) -> bool:
        return self.first <= start and end <= self.last


def data_window(agreement, premise, now: datetime) -> DataWindow | None:
    """The days ``agreement`` lets its CSP read of ``premise`` (one of its own) now.

    None unless the agreement is active within its term and its CSP active.
    From the history window's start (``data_from``; the term's first day for
    an agreement made before history windows were stored), never before the
    current occupant's move-in, to the earlier of today and the term's end.
    After the agreement ends there is no window at all, not even its term.
    """
    if not can_end(agreement, now) or agreement.csp.status != CspStatus.ACTIVE:
        return None
    first = agreement.data_from or agreement.term_start.astimezone(CENTRAL).date()
    if premise.occupant_since is not None:
        first = max(first, premise.occupant_since)
    today = now.astimezone(CENTRAL).date()
    return DataWindow(first, min(today, agreement.term_end.astimezone(CENTRAL).date()))


def grants_access(agreement, esi_id: str, day: date, now: datetime) -> bool:
    """Whether ``agreement`` lets its CSP read ``esi_id``'s data for local ``day`` now:
    the premise is one of the agreement's and the day inside its data window."""
    covered = [link.premise for link in agreement.premises.all() if link.esi_id == esi_id]
    if not covered:
        return False
    window = data_window(agreement, covered[0], now)
    return window is not None and window.covers(day, day)


def access_granted_at(agreement, moment: datetime) -> bool:
    """The agreement let its CSP read data at ``moment``: affirmed, not yet ended then."""
    if agreement.term_start is None or agreement.term_start > moment:
        return False
    if agreement.ended_at is not None and agreement.ended_at <= moment:
        return False
    return agreement.term_end is None or agreement.term_end > moment


def access_granted_at_sql(agreement: str, moment: str) -> str:
    """``access_granted_at`` in SQL, for the agreement aliased ``agreement`` and a
    timestamp column ``moment``: the detectors judge logged calls with it."""
    return (
        f"({agreement}.term_start IS NOT NULL AND {agreement}.term_start <= {moment}"
        f" AND ({agreement}.ended_at IS NULL OR {agreement}.ended_at > {moment})"
        f" AND ({agreement}.term_end IS NULL OR {agreement}.term_end > {moment}))"
    )
