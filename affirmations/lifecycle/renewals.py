"""Renewals (R12): requested by the CSP, answered by the customer, timed out."""

from django.db import IntegrityError, transaction
from django.db.models import F

from premises.models import TermPolicy
from premises.services import max_term_months_for
from smt_portal import sealed_tokens
from smt_portal.actors import Actor
from smt_portal.calendar import (
    affirmation_deadline,
    configured_holidays,
    renewal_term_end,
)

from .. import emails
from ..events import agreement_events_emit
from ..masking import mask_email
from ..models import (
    Agreement,
    AgreementLink,
    LinkPurpose,
    RecordEvent,
    Renewal,
    RenewalKind,
    RenewalStatus,
)
from ..records import Entry, record_append, records_append_many
from ..rules import (
    can_end,
    renewal_can_be_answered,
    renewal_superseded,
    renewal_window_open,
    renewal_window_opens_on,
)
from ..transitions import RECORD_CHUNK
from .decisions import check_disclosure
from .errors import AgreementNotOpen, RenewalNotOpen, RenewalNotPending, RenewalPending
from .links import renewal_url, termination_link_renew
from .requests import lock_active_csp

# --- Renewals (R12) ------------------------------------------------------------------------


def agreement_renewal_request(*, agreement, customer_email, actor, now):
    """The CSP asks to renew an active agreement; the portal emails the customer (R4, R12).

    The request goes to ``customer_email``, the address the CSP names. Every
    premise large commercial and that address the one that last affirmed
    (``agreement_affirmed_email``, case aside): a one-click renewal for the
    original term. Otherwise the full affirmation, for the original term cut
    to the policy limit in force now; and when the address is another one,
    the affirmed address is told, with a "this was not me" report link
    (glossary, "Renewals"). Raises ``CspNotActive``, ``AgreementNotOpen``,
    ``RenewalNotOpen`` (before the last ``renewal_window_days`` of the current
    term: one renewal per term, terms never stack) or ``RenewalPending`` (one
    open renewal at a time).
    """
    placeholder, token_hash = sealed_tokens.sealed_token_new(LinkPurpose.RENEWAL.value)
    try:
        with transaction.atomic():
            lock_active_csp(agreement.csp)
            locked = _lock_active_agreement(agreement, now)
            _time_out_stale_renewal(locked, now)
            renewal = _renewal_create(locked, customer_email, now)
            _announce_renewal(locked, renewal, (placeholder, token_hash), actor, now)
    except IntegrityError:
        # A concurrent request committed its renewal first.
        raise RenewalPending(
            "A renewal of this agreement is already waiting for the customer."
        ) from None
    return renewal


def _lock_active_agreement(agreement, now):
    locked = Agreement.objects.select_for_update().get(pk=agreement.pk)
    # The term-end sweep may not have run yet: the term itself decides.
    if not can_end(locked, now):
        raise AgreementNotOpen("Only an active agreement within its term can be renewed.")
    if not renewal_window_open(locked, now):
        raise RenewalNotOpen(renewal_window_opens_on(locked))
    return locked


def _time_out_stale_renewal(agreement, now):
    """A pending renewal past its deadline (not yet swept) no longer blocks a new one."""
    renewals_time_out(now=now, agreement_id=agreement.pk)
    if Renewal.objects.filter(agreement=agreement, status=RenewalStatus.PENDING).exists():
        raise RenewalPending(
            "A renewal of this agreement is already waiting for the customer."
        ) from None


def agreement_affirmed_email(agreement):
    """The address that last affirmed the agreement: the one that accepted its
    latest renewal, or else the one that opted in."""
    renewed = (
        Renewal.objects.filter(agreement=agreement, status=RenewalStatus.RENEWED)
        .order_by("-decided_at", "-pk")
        .values_list("customer_email", flat=True)
        .first()
    )
    return renewed or agreement.customer_email


def same_address(one, other):
    return one.casefold() == other.casefold()


def _renewal_create(agreement, customer_email, now):
    premises = list(agreement.premises.all())
    # One click verifies nothing more, so it goes only to the address that
    # last affirmed the agreement; any other address proves nothing and gets
    # the full affirmation (disclosures and bot challenge) instead.
    agreement.affirmed_email = agreement_affirmed_email(agreement)
    same_customer = same_address(customer_email, agreement.affirmed_email)
    all_large = all(p.large_commercial for p in premises)
    one_click = same_customer and all_large
    if one_click:
        months = agreement.term_months
    else:
        limit = max_term_months_for(all_large_commercial=all_large, policy=TermPolicy.current())
        months = min(agreement.term_months, limit)
    agreement.premise_list = premises
    return Renewal.objects.create(
        agreement=agreement,
        kind=RenewalKind.ONE_CLICK if one_click else RenewalKind.FULL_AFFIRMATION,
        customer_email=customer_email,
        term_months=months,
        requested_at=now,
        expires_at=affirmation_deadline(now, holidays=configured_holidays()),
    )


def _announce_renewal(agreement, renewal, link, actor, now):
    placeholder, token_hash = link
    AgreementLink.objects.create(
        agreement=agreement, renewal=renewal, purpose=LinkPurpose.RENEWAL,
        token_hash=token_hash, created_at=now, expires_at=renewal.expires_at,
    )  # fmt: skip
    email = emails.email_renewal_request(
        agreement=agreement, premises=agreement.premise_list, renewal=renewal,
        link_url=renewal_url(placeholder), now=now,
    )  # fmt: skip
    to_affirmed = same_address(renewal.customer_email, agreement.affirmed_email)
    notice = None
    if not to_affirmed:
        notice = emails.email_renewal_elsewhere_notice(
            agreement=agreement, premises=agreement.premise_list, renewal=renewal,
            to=agreement.affirmed_email, now=now,
        )  # fmt: skip
    record_append(
        event=RecordEvent.RENEWAL_REQUESTED, actor=actor, now=now, agreement=agreement,
        details={"renewal_id": renewal.pk, "kind": renewal.kind,
                 "term_months": renewal.term_months, "email_id": email.pk,
                 "customer_email": mask_email(renewal.customer_email),
                 "to_affirmed_address": to_affirmed,
                 "affirmed_email": mask_email(agreement.affirmed_email),
                 "notice_email_id": notice.pk if notice else None,
                 "link_expires_at": renewal.expires_at},
    )  # fmt: skip


def agreement_renew(*, renewal, actor, now, disclosure=None):
    """The customer renews: the term is extended by the renewal's term,
    starting when the current term ends (glossary, "Terms").

    A full-affirmation renewal needs the current ``disclosure`` (the view has
    checked the bot challenge); a one-click renewal needs nothing more.
    Raises ``CspNotActive``, ``RenewalNotPending``, ``AgreementNotOpen`` or
    ``DisclosureOutdated``.
    """
    with transaction.atomic():
        lock_active_csp(renewal.agreement.csp)
        locked = Agreement.objects.select_for_update().get(pk=renewal.agreement_id)
        pending = _renewal_pending(renewal, now)
        if not can_end(locked, now):
            raise AgreementNotOpen("The agreement ended before it was renewed.")
        if renewal_superseded(pending, locked) or not renewal_window_open(locked, now):
            # The term was renewed since this was asked: a second term would stack.
            raise RenewalNotPending("This agreement's term was already renewed.")
        if pending.kind == RenewalKind.FULL_AFFIRMATION:
            check_disclosure(disclosure)
        new_end = renewal_term_end(locked.term_end, pending.term_months)
        _renewal_decide(pending, RenewalStatus.RENEWED, now, disclosure=disclosure,
                        new_term_end=new_end)  # fmt: skip
        Agreement.objects.filter(pk=locked.pk).update(
            term_end=new_end,
            renewal_count=F("renewal_count") + 1,
            # A new term end: its notice (glossary, "Reminders") is due again.
            term_end_notice_sent_at=None,
        )
        current = Agreement.objects.select_related("csp", "disclosure").get(pk=locked.pk)
        pending.refresh_from_db()
        sent = emails.email_receipt_renewed(
            agreement=current, premises=list(current.premises.all()), renewal=pending,
            end_url=termination_link_renew(current, now), now=now,
        )  # fmt: skip
        agreement_events_emit(agreement_ids=[current.pk], record_event=RecordEvent.RENEWED, now=now)
        record_append(
            event=RecordEvent.RENEWED, now=now, agreement=current,
            actor=actor,
            details={"renewal_id": pending.pk, "kind": pending.kind,
                     "disclosure_version": disclosure.version if disclosure else None,
                     "previous_term_end": locked.term_end, "term_end": new_end,
                     "email_id": sent.pk},
        )  # fmt: skip
    return pending


def agreement_renewal_decline(*, renewal, actor, now):
    """The customer does not renew: the agreement runs to its current term end."""
    with transaction.atomic():
        pending = _renewal_pending(renewal, now)
        _renewal_decide(pending, RenewalStatus.DECLINED, now)
        agreement = Agreement.objects.select_related("csp", "disclosure").get(
            pk=pending.agreement_id
        )
        sent = emails.email_receipt_renewal_declined(
            agreement=agreement, premises=list(agreement.premises.all()), renewal=pending, now=now
        )
        agreement_events_emit(
            agreement_ids=[agreement.pk], record_event=RecordEvent.RENEWAL_DECLINED, now=now
        )
        record_append(
            event=RecordEvent.RENEWAL_DECLINED, now=now, agreement=agreement,
            actor=actor,
            details={"renewal_id": pending.pk, "email_id": sent.pk},
        )  # fmt: skip
    return pending


def _renewal_pending(renewal, now):
    locked = Renewal.objects.select_for_update().get(pk=renewal.pk)
    if not renewal_can_be_answered(locked, now):
        raise RenewalNotPending("This renewal can no longer be answered.")
    return locked


def _renewal_decide(renewal, status, now, **fields):
    changed = Renewal.objects.filter(pk=renewal.pk, status=RenewalStatus.PENDING).update(
        status=status, decided_at=now, **fields
    )
    if changed != 1:  # the row lock makes this unreachable; never decide twice
        raise RenewalNotPending("This renewal can no longer be answered.")


def renewals_time_out(*, now, agreement_id=None):
    """Every renewal still pending after its deadline → ``timed_out`` (the
    agreement keeps running to its current term end). Returns how many."""
    due = Renewal.objects.filter(status=RenewalStatus.PENDING, expires_at__lt=now)
    if agreement_id is not None:
        due = due.filter(agreement_id=agreement_id)
    with transaction.atomic():
        rows = list(
            due.select_for_update(of=("self",))
            .order_by("pk")
            .values_list("pk", "agreement_id", "agreement__csp_id")
        )
        if not rows:
            return 0
        Renewal.objects.filter(pk__in=[pk for pk, _, _ in rows]).update(
            status=RenewalStatus.TIMED_OUT, decided_at=now
        )
        entries = [
            Entry(RecordEvent.RENEWAL_TIMED_OUT, agreement_id, csp_id, {"renewal_id": pk})
            for pk, agreement_id, csp_id in rows
        ]
        _append_in_chunks(entries, actor=Actor.system(), now=now)
    return len(rows)


def _append_in_chunks(entries, *, actor, now):
    for start in range(0, len(entries), RECORD_CHUNK):
        records_append_many(entries=entries[start : start + RECORD_CHUNK], actor=actor, now=now)
