"""The account's premises and the agreements on them (R14, B2, B5).

A customer links a premise by proving its three facts with the same check as
the API (``premises.services.premise_authenticate``: the attempt is recorded
and monitoring sees it), from a premise-check budget per account and per
client IP. A premise has one open link: its current occupant's. Who the
occupant is comes from the premise's ``occupant_since`` (the TDU's move-in
date): a link made on a local day before it belongs to the former occupant.

Which agreements an account sees: every agreement on its linked premises, from
every CSP and whatever address it was sent to, that was made (affirmed, or
while pending requested) on or after the current occupant's ``occupant_since``
— the same line ``affirmations.rules.made_before_move_in`` draws. Earlier
agreements were the former occupant's business (they were ended at the
move-in); with no ``occupant_since`` known, every agreement on the premise.
"""

from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce, TruncDate

from affirmations import services as affirmations
from affirmations.masking import mask_email
from affirmations.models import Agreement, AgreementPremise, EndedBy, Record
from csp_registry.api.ratelimits import budgets_take  # the API's premise-check counters
from premises.models import Premise
from premises.services import premise_authenticate
from smt_portal.calendar import CENTRAL

from .models import AccountEvent, AccountEventKind, PremiseLink

OCCUPANT_CHANGED = "occupant_changed"
REMOVED = "removed"


class PremiseChecksExhausted(Exception):
    """The account's or the IP's premise-check budget is spent: nothing was checked."""

    def __init__(self, retry_after):
        super().__init__("premise-check budget exhausted")
        self.retry_after = retry_after


# --- The premise-check budget ------------------------------------------------------------


def premise_checks_take(*, user_id, ip, count=1):
    """Take ``count`` checks from the account's and the IP's budgets, or none.

    The API's counters (``csp_registry.api.ratelimits``): one atomic INCRBY per
    window, given back when the request is refused, so concurrent submissions
    never pass on the same last check. A cache that cannot be reached raises
    (the page answers 503: nothing is checked without working limits).
    """
    budgets = [
        ("account", str(user_id), settings.CUSTOMER_PREMISE_CHECKS_PER_ACCOUNT),
        ("customer-ip", ip or "unknown", settings.CUSTOMER_PREMISE_CHECKS_PER_IP),
    ]
    refused = budgets_take(budgets, count=count)
    if refused is not None:
        raise PremiseChecksExhausted(retry_after=max(1, refused.time_left()))


# --- Linking a premise -------------------------------------------------------------------


@dataclass(frozen=True)
class LinkOutcome:
    """``linked`` (or ``already_linked``), ``not_authenticated`` (one answer
    whatever fact was wrong) or ``linked_elsewhere`` (another occupant's)."""

    status: str
    link: PremiseLink | None = None


def _linked_on(link):
    return link.linked_at.astimezone(CENTRAL).date()


def occupant_moved_in_since(premise, link) -> bool:
    """A new occupant moved in after ``link`` was made (its local day)."""
    return premise.occupant_since is not None and premise.occupant_since > _linked_on(link)


def premise_link(*, user, esi_id, meter_number, rep_certificate_number, ip, now):
    """Prove a premise's three facts (normalised) and link it to ``user``.

    The budget first (``PremiseChecksExhausted``: nothing checked, nothing
    recorded); then the check, recorded whatever its outcome. A premise whose
    open link belongs to another account is refused, unless its occupant
    changed since that link was made: then that link closes
    (``occupant_changed``) and this one opens, in one transaction.
    """
    premise_checks_take(user_id=user.pk, ip=ip)
    with transaction.atomic():
        result = premise_authenticate(
            esi_id=esi_id, meter_number=meter_number,
            rep_certificate_number=rep_certificate_number, csp=None, ip=ip, now=now,
        )  # fmt: skip
        if not result.authenticated:
            return LinkOutcome("not_authenticated")  # the attempt's row commits
        # The premise's row serialises two accounts proving it at once.
        premise = Premise.objects.select_for_update().get(pk=result.premise.pk)
        current = PremiseLink.objects.filter(premise=premise, unlinked_at__isnull=True).first()
        if current is not None and current.user_id == user.pk:
            return LinkOutcome("already_linked", current)
        if current is not None:
            if not occupant_moved_in_since(premise, current):
                return LinkOutcome("linked_elsewhere")
            _links_close([current], reason=OCCUPANT_CHANGED, ip=None, now=now)
        link = PremiseLink.objects.create(user=user, premise=premise, linked_at=now)
        _event(user.pk, AccountEventKind.PREMISE_LINKED, ip=ip, now=now,
               details={"premise_id": premise.pk, "esi_id": premise.esi_id})  # fmt: skip
    return LinkOutcome("linked", link)


def premise_unlink(*, user, premise_id, ip, now) -> bool:
    """The customer removes a premise from the account (``removed``); False
    when it was not one of the account's open links."""
    with transaction.atomic():
        link = (
            PremiseLink.objects.select_for_update()
            .select_related("premise")
            .filter(user=user, premise_id=premise_id, unlinked_at__isnull=True)
            .first()
        )
        if link is None:
            return False
        _links_close([link], reason=REMOVED, ip=ip, now=now)
    return True


def links_close_for_new_occupants(*, premise_ids, now):
    """Subscriber of ``premises.services.occupants_changed_subscribe`` (in the
    import's transaction): the open links made on a local day before the
    premise's new ``occupant_since`` close (``occupant_changed``). Set-based:
    one SELECT, one UPDATE and one INSERT per chunk."""
    premise_ids = sorted(set(premise_ids))
    for start in range(0, len(premise_ids), 5000):
        chunk = premise_ids[start : start + 5000]
        links = list(
            PremiseLink.objects.filter(
                premise_id__in=chunk,
                unlinked_at__isnull=True,
                premise__occupant_since__gt=TruncDate("linked_at", tzinfo=CENTRAL),
            ).select_related("premise")
        )
        _links_close(links, reason=OCCUPANT_CHANGED, ip=None, now=now)


def _links_close(links, *, reason, ip, now):
    if not links:
        return
    PremiseLink.objects.filter(pk__in=[link.pk for link in links]).update(
        unlinked_at=now, unlink_reason=reason
    )
    AccountEvent.objects.bulk_create(
        AccountEvent(
            user_id=link.user_id,
            account_ref=link.user_id,
            at=now,
            ip=ip,
            kind=AccountEventKind.PREMISE_UNLINKED,
            details={
                "premise_id": link.premise_id,
                "esi_id": link.premise.esi_id,
                "reason": reason,
            },
        )  # fmt: skip
        for link in links
    )


def _event(user_id, kind, *, ip, now, details):
    AccountEvent.objects.create(
        user_id=user_id, account_ref=user_id, kind=kind, at=now, ip=ip, details=details
    )


def open_links(user):
    """The account's premises (open links), oldest first, with their premise."""
    return list(
        PremiseLink.objects.filter(user=user, unlinked_at__isnull=True)
        .select_related("premise")
        .order_by("linked_at", "pk")
    )


# --- The agreements on the account's premises --------------------------------------------


def _made_by_current_occupant():
    """On an ``AgreementPremise``: made on or after the premise's ``occupant_since``."""
    made_on = TruncDate(
        Coalesce(F("agreement__affirmed_at"), F("agreement__created_at")), tzinfo=CENTRAL
    )
    return Q(premise__occupant_since__isnull=True) | Q(premise__occupant_since__lte=made_on)


def _visible(user):
    return AgreementPremise.objects.filter(
        _made_by_current_occupant(),
        premise__in=PremiseLink.objects.filter(user=user, unlinked_at__isnull=True).values(
            "premise_id"
        ),
    )


def account_agreement(*, user, agreement_id):
    """The agreement if it is on one of the account's premises and made during
    its occupancy, with its CSP; else None (the page answers 404)."""
    if not _visible(user).filter(agreement_id=agreement_id).exists():
        return None
    return Agreement.objects.select_related("csp").filter(pk=agreement_id).first()


@dataclass
class PremiseAgreements:
    link: PremiseLink
    rows: list = field(default_factory=list)  # AgreementPremise, agreement and CSP loaded


def dashboard(*, user, account_email):
    """Each open link with every visible agreement on its premise, newest first,
    each agreement's records and shown address attached. A constant number of
    queries whatever the number of premises and agreements."""
    links = open_links(user)
    by_premise = {link.premise_id: PremiseAgreements(link) for link in links}
    rows = list(
        AgreementPremise.objects.filter(_made_by_current_occupant(), premise_id__in=by_premise)
        .select_related("agreement__csp", "agreement__disclosure")
        .order_by("premise_id", "-agreement__created_at", "-agreement_id")
    )
    records = {}
    for record in Record.objects.filter(agreement_id__in={r.agreement_id for r in rows}).order_by(
        "agreement_id", "id"
    ):
        records.setdefault(record.agreement_id, []).append(record)
    for row in rows:
        agreement = row.agreement
        agreement.decisions = records.get(agreement.pk, [])
        agreement.shown_email = address_shown(agreement.customer_email, account_email)
        by_premise[row.premise_id].rows.append(row)
    return list(by_premise.values())


def address_shown(address, account_email):
    """The address an agreement was sent to, in full only if it is the account's own."""
    same = (address or "").strip().lower() == (account_email or "").strip().lower()
    return address if same and address else mask_email(address)


# --- Acting on an agreement from the account ---------------------------------------------


def agreement_end_from_account(*, agreement, actor, now):
    """The customer ends an active agreement at once: ``agreement_terminate``
    (the customer's notice, the CSP's email and ``agreement.terminated`` event,
    in one transaction). Raises ``affirmations.services.AgreementNotOpen``."""
    return affirmations.agreement_terminate(
        agreement=agreement, ended_by=EndedBy.CUSTOMER,
        reason="The customer ended the sharing from their account.",
        actor=actor, now=now,
    )  # fmt: skip
