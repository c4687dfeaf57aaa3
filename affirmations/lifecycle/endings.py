"""Ending an agreement early: by the customer, the CSP, staff or the Commission, and a
CSP's revocation."""

from django.db import transaction

from ..models import (
    OPEN_STATUSES,
    Agreement,
    AgreementStatus,
    EndedBy,
    RecordEvent,
)
from ..transitions import agreements_transition
from .errors import AgreementNotOpen

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
    Commission) and email the customer a notice. Raises ``AgreementNotOpen``."""
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
    return Agreement.objects.select_related("csp").get(pk=locked.pk)


def agreements_revoke_for_csp(*, csp, actor, reason, now, ended_by=EndedBy.COMMITTEE):
    """Revoke every pending and active agreement of ``csp`` at once (a CSP's
    revocation); each active agreement's customer is told. Returns the ids."""
    moved = agreements_transition(
        due=Agreement.objects.filter(csp=csp), to_status=AgreementStatus.REVOKED,
        record_event=RecordEvent.REVOKED, actor=actor, now=now, ended_by=ended_by,
        reason=reason, details={"ended_by": ended_by, "reason": reason},
    )  # fmt: skip
    return [m.agreement_id for m in moved]
