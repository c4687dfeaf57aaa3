"""The account holder's own data: who read it, and downloading it.

Everything here is about one premise of the account (an open ``PremiseLink``)
and only about the account holder's occupancy of it: reads made since they
moved in, days since they moved in. When the move-in date (``occupant_since``)
is unknown, the occupancy is taken to begin when they added the premise to the
account: nothing from before can be told apart from a former occupant's.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncMonth

from affirmations.models import AgreementPremise
from data_access.models import DataAccessLog
from data_access.services import MAX_DAYS
from smt_portal.calendar import CENTRAL

from .models import PremiseLink

# Reads the CSP was answered (304: "nothing new since", still a read).
SERVED = (200, 304)


def premise_link_find(*, user, premise_id) -> PremiseLink | None:
    """The account's open link to ``premise_id`` (with its premise), or None."""
    return (
        PremiseLink.objects.select_related("premise")
        .filter(user=user, premise_id=premise_id, unlinked_at__isnull=True)
        .first()
    )


def occupancy_first_day(link: PremiseLink) -> date:
    """The first local day of the account holder's occupancy."""
    if link.premise.occupant_since is not None:
        return link.premise.occupant_since
    return link.linked_at.astimezone(CENTRAL).date()


def occupancy_start(link: PremiseLink) -> datetime:
    """The moment the occupancy began: the move-in day's local midnight, or the
    moment the premise was added when the move-in day is unknown."""
    if link.premise.occupant_since is not None:
        return datetime.combine(link.premise.occupant_since, time.min, tzinfo=CENTRAL)
    return link.linked_at


def _reads_of(link):
    return DataAccessLog.objects.filter(
        premise_id=link.premise_id, created_at__gte=occupancy_start(link)
    )


def premise_reads(*, link):
    """The reads of the premise's data the CSPs were answered during the
    occupancy, newest first, each with its CSP (one query per page)."""
    return (
        _reads_of(link)
        .filter(status_code__in=SERVED)
        .select_related("csp")
        .order_by("-created_at", "-id")
    )


def premise_reads_refused_count(*, link) -> int:
    """How many attempts to read the premise's data were refused during the occupancy.

    A refusal is logged before the premise is known (``premise`` empty): it is
    this premise's when it named its ESI ID under an agreement covering it
    (ended, pending, or outside its data window). Both branches are index reads
    (premise, and agreement id, with the time).
    """
    premise = link.premise
    agreements = AgreementPremise.objects.filter(premise_id=premise.pk).values("agreement_id")
    return (
        DataAccessLog.objects.filter(created_at__gte=occupancy_start(link))
        .filter(
            Q(premise_id=premise.pk)
            | Q(premise__isnull=True, agreement_id__in=agreements, esi_id=premise.esi_id)
        )
        .exclude(status_code__in=SERVED)
        .count()
    )


@dataclass(frozen=True)
class MonthOfReads:
    month: date  # the 1st, Central time
    reads: int
    readings: int
    share: int  # percent of the busiest month of any CSP (for the chart)


@dataclass(frozen=True)
class CspReads:
    csp_id: int
    name: str
    months: list
    reads: int


def premise_reads_by_csp_month(*, link) -> list[CspReads]:
    """Per CSP and calendar month (Central time), the served reads and the
    readings they carried: one grouped query, CSPs by name, months in order."""
    rows = (
        _reads_of(link)
        .filter(status_code__in=SERVED, csp__isnull=False)
        .annotate(month=TruncMonth("created_at", tzinfo=CENTRAL))
        .values("csp_id", "csp__legal_name", "csp__dba_name", "month")
        .annotate(reads=Count("id"), readings=Sum("intervals"))
        .order_by("csp_id", "month")
    )
    rows = list(rows)
    busiest = max((row["reads"] for row in rows), default=0)
    by_csp: dict[int, dict] = {}
    for row in rows:
        entry = by_csp.setdefault(
            row["csp_id"],
            {"name": row["csp__dba_name"] or row["csp__legal_name"], "months": [], "reads": 0},
        )
        month = row["month"]
        month = month.date() if isinstance(month, datetime) else month
        entry["months"].append(
            MonthOfReads(
                month=month,
                reads=row["reads"],
                readings=row["readings"] or 0,
                share=max(1, round(100 * row["reads"] / busiest)),
            )
        )
        entry["reads"] += row["reads"]
    return sorted(
        (CspReads(csp_id=pk, **entry) for pk, entry in by_csp.items()),
        key=lambda csp: (csp.name.lower(), csp.csp_id),
    )


# --- Download My Data --------------------------------------------------------------------


@dataclass(frozen=True)
class DownloadWindow:
    """The days the account holder may download: from the occupancy's first day
    to today, at most ``MAX_DAYS`` at a time."""

    first: date
    last: date

    def errors(self, start: date, end: date) -> dict[str, str]:
        """What is wrong with ``start``..``end``, by field (empty when nothing is)."""
        errors = {}
        if start < self.first:
            errors["start"] = "before"
        if end > self.last:
            errors["end"] = "after"
        elif end < start:
            errors["end"] = "reversed"
        elif (end - start).days + 1 > MAX_DAYS:
            errors["end"] = "too_long"
        return errors

    def default_range(self, days=31) -> tuple[date, date]:
        """The last ``days`` days of the window (all of it when shorter)."""
        return max(self.first, self.last - timedelta(days=days - 1)), self.last


def download_window(*, link, now) -> DownloadWindow:
    return DownloadWindow(first=occupancy_first_day(link), last=now.astimezone(CENTRAL).date())
