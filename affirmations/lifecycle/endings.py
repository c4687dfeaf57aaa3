"""Ending an agreement early: by the customer, the CSP, staff or the Commission, and a
CSP's revocation."""

from django.db import transaction
from django.db.models import DateTimeField, Exists, F, OuterRef
from django.db.models.functions import Coalesce, TruncDate

from csp_registry.models import Csp
from smt_portal.actors import Actor
from smt_portal.calendar import CENTRAL

from .. import emails
from ..models import (
    OPEN_STATUSES,
    Agreement,
    AgreementPremise,
    AgreementStatus,
    EndedBy,
    RecordEvent,
)
from ..rules import OCCUPANT_CHANGED
from ..transitions import agreements_transition
from .errors import AgreementNotOpen

# Premises of one import are swept this many at a time.
MOVE_IN_CHUNK = 5000

# --- Ending an agreement -------------------------------------------------------------


def agreement_end_by_customer(*, link, actor, now):
    """The customer ends the sharing with the link of their receipt (no account
    needed). Raises ``AgreementNotOpen`` once the agreement or its term ended."""
    if link.expires_at <= now:
        raise AgreementNotOpen("This agreement's term has ended.")
    return agreement_terminate(
        agreement=link.agreement, ended_by=EndedBy.CUSTOMER,
        reason="The customer ended the sharing.",
        actor=actor, now=now,
    )  # fmt: skip


# Ended by the committee or the Commission → revoked; by the customer or the
# CSP → terminated (glossary, "Agreement statuses").
_STATUS_FOR_ENDER = {
    EndedBy.CUSTOMER: AgreementStatus.TERMINATED,
    EndedBy.CSP: AgreementStatus.TERMINATED,
    EndedBy.COMMITTEE: AgreementStatus.REVOKED,
    EndedBy.COMMISSION: AgreementStatus.REVOKED,
}


def agreement_terminate(*, agreement, ended_by, reason, actor, now):
    """End a pending or active agreement at once (customer, CSP, committee or
    Commission) and email the customer a notice (and the CSP, when the customer
    ended it). Raises ``AgreementNotOpen``."""
    to_status = _STATUS_FOR_ENDER[ended_by]
    with transaction.atomic():
        locked = Agreement.objects.select_for_update().get(pk=agreement.pk)
        if locked.status not in OPEN_STATUSES:
            raise AgreementNotOpen(f"This agreement is already {locked.status}.")
        revoked = to_status == AgreementStatus.REVOKED
        agreements_transition(
            due=Agreement.objects.filter(pk=locked.pk), to_status=to_status,
            record_event=RecordEvent.REVOKED if revoked else RecordEvent.TERMINATED,
            actor=actor, now=now, ended_by=ended_by, reason=reason,
            details={"ended_by": ended_by, "reason": reason},
        )  # fmt: skip
        ended = Agreement.objects.select_related("csp").get(pk=locked.pk)
        if ended_by == EndedBy.CUSTOMER:
            # The CSP learns it by event too; the email reaches its people.
            emails.email_csp_ended_by_customer(agreement=ended, now=now)
    return ended


def agreements_revoke_for_csp(*, csp, actor, reason, now, ended_by=EndedBy.COMMITTEE):
    """Revoke every pending and active agreement of ``csp`` at once (a CSP's
    revocation); each active agreement's customer is told. Returns the ids."""
    moved = agreements_transition(
        due=Agreement.objects.filter(csp=csp), to_status=AgreementStatus.REVOKED,
        record_event=RecordEvent.REVOKED, actor=actor, now=now, ended_by=ended_by,
        reason=reason, details={"ended_by": ended_by, "reason": reason},
    )  # fmt: skip
    return [m.agreement_id for m in moved]


# --- A move-in ends consent (glossary, B13) -------------------------------------------


def _made_on(agreement):
    """The local date an agreement was made: its affirmation, or while pending its request."""
    return TruncDate(
        Coalesce(F(f"{agreement}affirmed_at"), F(f"{agreement}created_at")), tzinfo=CENTRAL
    )


def agreements_end_for_new_occupants(*, premise_ids, now, actor=None):
    """End every pending or active agreement covering one of ``premise_ids``
    that was made (affirmed, or while pending requested) on a local date before
    the premise's ``occupant_since``: ``terminated``, reason ``occupant_changed``.

    Subscribed to ``premises.services.occupants_changed_subscribe`` (runs in
    the import's transaction). Set-based: a few statements per chunk of
    premises, none per agreement. The former customer is told (a notice, as a
    status change) and each CSP once per chunk at its notice address; the
    transition emits ``agreement.terminated``. Returns the ids ended.
    """
    actor = actor or Actor.system("import_premises")
    premise_ids = sorted(set(premise_ids))
    ended = []
    for start in range(0, len(premise_ids), MOVE_IN_CHUNK):
        chunk = premise_ids[start : start + MOVE_IN_CHUNK]
        moved_in_later = AgreementPremise.objects.filter(
            agreement=OuterRef("pk"),
            premise_id__in=chunk,
            premise__occupant_since__gt=TruncDate(
                Coalesce(
                    OuterRef("affirmed_at"), OuterRef("created_at"), output_field=DateTimeField()
                ),
                tzinfo=CENTRAL,
            ),
        )
        moved = agreements_transition(
            due=Agreement.objects.filter(status__in=OPEN_STATUSES).filter(Exists(moved_in_later)),
            to_status=AgreementStatus.TERMINATED, record_event=RecordEvent.TERMINATED,
            actor=actor, now=now, ended_by=EndedBy.SYSTEM, reason=OCCUPANT_CHANGED,
            details={"ended_by": EndedBy.SYSTEM, "reason": OCCUPANT_CHANGED},
            after_update=lambda moved, chunk=chunk: _csps_told(moved, chunk, now),
        )  # fmt: skip
        ended += [m.agreement_id for m in moved]
    return ended


def _csps_told(moved, premise_ids, now):
    """One email per CSP naming its agreements and the premises moved into."""
    rows = (
        AgreementPremise.objects.filter(
            agreement_id__in=[m.agreement_id for m in moved],
            premise_id__in=premise_ids,
            premise__occupant_since__gt=_made_on("agreement__"),
        )
        .order_by("agreement_id", "esi_id")
        .values_list(
            "csp_id", "agreement_id", "agreement__confirmation_code", "esi_id",
            "premise__occupant_since",
        )
    )  # fmt: skip
    by_csp = {}
    for csp_id, agreement_id, code, esi_id, occupant_since in rows:
        agreements = by_csp.setdefault(csp_id, {})
        agreement = agreements.setdefault(
            agreement_id, {"id": agreement_id, "confirmation_code": code, "premises": []}
        )
        agreement["premises"].append({"esi_id": esi_id, "occupant_since": occupant_since})
    csps = Csp.objects.in_bulk(list(by_csp))
    notices = [(csps[csp_id], list(agreements.values())) for csp_id, agreements in by_csp.items()]
    sent = emails.emails_csp_occupant_changed_many(notices=notices, now=now)
    email_of_csp = {csp.pk: email.pk for (csp, _), email in zip(notices, sent, strict=True)}
    return {m.agreement_id: {"csp_email_id": email_of_csp[m.csp_id]} for m in moved}
