"""Every change of an agreement's state, one function per change.

The API views, the customer pages, the admin, the Celery tasks and the
management commands all call these; none repeats their logic. Each transition
is a conditional UPDATE (or runs under a row lock), so two concurrent
decisions never both apply, and each keeps ``AgreementPremise.is_open`` in
step with the agreement's status in the same transaction (the partial unique
index on it is what keeps one open agreement per CSP and ESI ID).
"""

import secrets
from dataclasses import dataclass
from functools import partial

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.urls import reverse

from csp_registry.models import CspStatus
from premises.models import TermPolicy
from premises.services import max_term_months_for, premises_authenticate
from smt_portal import sealed_tokens
from smt_portal.actors import Actor
from smt_portal.calendar import (
    affirmation_deadline,
    configured_holidays,
    renewal_term_end,
    term_end,
)

from . import emails
from .events import agreement_events_emit
from .masking import mask_email
from .models import (
    OPEN_STATUSES,
    Agreement,
    AgreementLink,
    AgreementPremise,
    AgreementStatus,
    Disclosure,
    EndedBy,
    LinkPurpose,
    RecordEvent,
    Renewal,
    RenewalKind,
    RenewalStatus,
)
from .records import Entry, record_append, records_append_many
from .rules import can_end, renewal_can_be_answered
from .transitions import agreements_transition

MAX_PREMISES = 200
# Unambiguous when read aloud or retyped: no 0/O, 1/I/L.
CONFIRMATION_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CONFIRMATION_LENGTH = 8
# Records of a sweep are appended in chunks so a million rows never sit in
# memory at once; the chain head stays locked for the whole transaction.
RECORD_CHUNK = 5000


# --- Errors the API maps to the contract's codes -----------------------------


class AgreementError(Exception):
    """A request the rules refuse; ``code`` is the contract's error code."""

    code = "invalid"

    def __init__(self, message):
        super().__init__(message)
        self.message = message


class CspNotActive(AgreementError):
    code = "csp_not_active"


class AuthenticationFailed(AgreementError):
    code = "authentication_failed"

    def __init__(self, indexes):
        # Indexes only: never which of the three facts was wrong (R3).
        super().__init__(
            "These premises could not be authenticated: " + ", ".join(map(str, indexes))
        )
        self.indexes = indexes


class TermExceedsLimit(AgreementError):
    code = "term_exceeds_limit"

    def __init__(self, maximum):
        super().__init__(f"The term may be at most {maximum} months for these premises.")
        self.maximum = maximum


class DuplicateAgreement(AgreementError):
    code = "duplicate_agreement"

    def __init__(self, esi_ids):
        super().__init__(
            "An agreement pending affirmation or active already covers: " + ", ".join(esi_ids)
        )
        self.esi_ids = esi_ids


class CooldownActive(AgreementError):
    code = "cooldown_active"

    def __init__(self, esi_ids):
        super().__init__(
            "This provider's earlier request was reported as spam; it cannot ask again yet "
            "for: " + ", ".join(esi_ids)
        )
        self.esi_ids = esi_ids


class AgreementNotPending(AgreementError):
    code = "agreement_not_pending"


class ReminderAlreadySent(AgreementError):
    code = "reminder_already_sent"


class AgreementNotOpen(AgreementError):
    # The contract's code for "this agreement is not in a state that allows it".
    code = "agreement_not_active"


class DecisionAlreadyMade(AgreementError):
    """The customer (in another tab, or a second click) already decided."""

    code = "already_decided"


class RequestTimedOut(AgreementError):
    code = "timed_out"


class DisclosureOutdated(AgreementError):
    """Staff published new disclosures after the page was shown: the customer
    must see (and acknowledge) the version that is recorded."""

    code = "disclosure_outdated"


class RenewalPending(AgreementError):
    code = "renewal_pending"


class RenewalNotPending(AgreementError):
    """The renewal was already answered, timed out, or its agreement ended."""

    code = "renewal_not_pending"


# --- Small helpers -------------------------------------------------------------


def confirmation_code_new() -> str:
    return "".join(secrets.choice(CONFIRMATION_ALPHABET) for _ in range(CONFIRMATION_LENGTH))


def link_token_new() -> tuple[str, str]:
    """A new link: ``(placeholder, token_hash)``.

    The token (256 bits) exists in clear only in the email as it is sent: the
    outbox row holds a placeholder (``smt_portal.sealed_tokens``), the link
    row the SHA-256.
    """
    return sealed_tokens.sealed_token_new(LinkPurpose.AFFIRMATION.value)


def link_token_hash(token: str) -> str:
    return sealed_tokens.token_hash(token)


def agreement_link_find(*, token: str, purpose: str = LinkPurpose.AFFIRMATION):
    """The link a token opens, with its agreement and CSP, or ``None``.

    The lookup is by the hash's unique index: the database compares hashes,
    never the token, so timing says nothing about stored values.
    """
    if not token or len(token) > 100:
        return None
    return (
        AgreementLink.objects.select_related("agreement__csp")
        .filter(token_hash=link_token_hash(token), purpose=purpose)
        .first()
    )


def affirmation_url(placeholder: str) -> str:
    # reverse() would percent-encode the placeholder's brackets; it must stay
    # verbatim for the outbox to replace it with the token at send time.
    path = reverse("affirmations:affirm", args=["TOKEN"]).replace("TOKEN", placeholder)
    return settings.SITE_URL + path


def _link_create(*, agreement, token_hash, now):
    return AgreementLink.objects.create(
        agreement=agreement,
        purpose=LinkPurpose.AFFIRMATION,
        token_hash=token_hash,
        created_at=now,
        expires_at=agreement.affirmation_expires_at,
    )


def _transition(from_status, to_status):
    return {"from_status": str(from_status), "to_status": str(to_status)}


# --- Request ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Authenticated:
    premises: list  # Premise rows, in request order
    large_commercial: list  # bool per premise
    max_term_months: int


def agreement_request(*, csp, premises, customer_email, term_months, language, actor, now):
    """Create a pending agreement and queue its affirmation email (R4, R6).

    ``premises`` are normalised ``(esi_id, meter_number, certificate_number)``
    triples of one customer. Raises ``CspNotActive``, ``AuthenticationFailed``,
    ``TermExceedsLimit`` or ``DuplicateAgreement``. Authentication attempts
    are recorded (for monitoring) even when the request is then refused.
    """
    _check_request_shape(premises, term_months)
    if csp.status != CspStatus.ACTIVE:
        raise CspNotActive("This CSP is not active and cannot start requests.")
    checked = _authenticate(csp=csp, premises=premises, ip=actor.ip, now=now)
    if term_months > checked.max_term_months:
        raise TermExceedsLimit(checked.max_term_months)
    placeholder, token_hash = link_token_new()
    try:
        with transaction.atomic():
            _lock_active_csp(csp)
            _refuse_duplicates(csp=csp, premises=checked.premises)
            _run_request_guards(csp=csp, premises=checked.premises, now=now)
            agreement = _agreement_create(
                csp=csp,
                checked=checked,
                customer_email=customer_email,
                term_months=term_months,
                language=language,
                now=now,
            )
            _announce_request(
                agreement=agreement, link=(placeholder, token_hash), actor=actor, now=now
            )
    except IntegrityError:
        # A concurrent request for the same ESI ID committed first: the
        # partial unique index refused ours. Say so in the contract's terms.
        _refuse_duplicates(csp=csp, premises=checked.premises)
        raise
    return agreement


def _check_request_shape(premises, term_months):
    # The API's serializer refuses these with field messages; this guards
    # every other caller.
    if not 1 <= len(premises) <= MAX_PREMISES:
        raise ValueError(f"an agreement covers 1 to {MAX_PREMISES} premises")
    if len({triple[0] for triple in premises}) != len(premises):
        raise ValueError("each ESI ID may appear once")
    if isinstance(term_months, bool) or not isinstance(term_months, int) or term_months < 1:
        raise ValueError("term_months must be a whole number of at least 1")


def _authenticate(*, csp, premises, ip, now):
    policy = TermPolicy.current()
    results = premises_authenticate(triples=list(premises), csp=csp, ip=ip, now=now, policy=policy)
    failed = [index for index, result in enumerate(results) if not result.authenticated]
    if failed:
        raise AuthenticationFailed(failed)
    large = [result.large_commercial for result in results]
    return _Authenticated(
        premises=[result.premise for result in results],
        large_commercial=large,
        max_term_months=max_term_months_for(all_large_commercial=all(large), policy=policy),
    )


def _lock_active_csp(csp):
    """Hold a shared lock on the CSP row until commit, and re-check its status.

    A suspension or revocation updates that row, so it waits for requests in
    flight and they wait for it: no request slips in beside a revocation.
    Shared, so requests of one CSP do not queue behind each other. SQLite
    runs one writer at a time, so a plain read is enough there.
    """
    table = csp._meta.db_table
    lock = " FOR SHARE" if connection.vendor == "postgresql" else ""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT status FROM {table} WHERE id = %s{lock}", [csp.pk])  # noqa: S608
        row = cursor.fetchone()
    if row is None or row[0] != CspStatus.ACTIVE:
        raise CspNotActive("This CSP is not active and cannot start requests.")


def _refuse_duplicates(*, csp, premises):
    taken = list(
        AgreementPremise.objects.filter(
            csp=csp, premise__in=[premise.pk for premise in premises], is_open=True
        ).values_list("esi_id", flat=True)
    )
    if taken:
        raise DuplicateAgreement(sorted(taken))


# Checks other apps add to every request (monitoring's spam cooldown), run in
# the request's transaction after the duplicate check; each may raise an
# ``AgreementError`` that the API maps to its code.
_request_guards = []


def request_guards_subscribe(guard) -> None:
    """Run ``guard(csp=, premises=, now=)`` before every request is created."""
    if guard not in _request_guards:
        _request_guards.append(guard)


def _run_request_guards(*, csp, premises, now):
    for guard in _request_guards:
        guard(csp=csp, premises=premises, now=now)


def _agreement_create(*, csp, checked, customer_email, term_months, language, now):
    agreement = Agreement.objects.create(
        csp=csp,
        status=AgreementStatus.PENDING_AFFIRMATION,
        customer_email=customer_email,
        language=language,
        term_months=term_months,
        max_term_months=checked.max_term_months,
        confirmation_code=confirmation_code_new(),
        created_at=now,
        affirmation_sent_at=now,
        affirmation_expires_at=affirmation_deadline(now, holidays=configured_holidays()),
    )
    agreement.premise_list = AgreementPremise.objects.bulk_create(
        [
            AgreementPremise(
                agreement=agreement,
                premise=premise,
                csp=csp,
                esi_id=premise.esi_id,
                service_address=premise.service_address,
                large_commercial=large,
                is_open=True,
            )
            for premise, large in zip(checked.premises, checked.large_commercial, strict=True)
        ]
    )
    return agreement


def _announce_request(*, agreement, link, actor, now):
    placeholder, token_hash = link
    _link_create(agreement=agreement, token_hash=token_hash, now=now)
    email = emails.email_affirmation_request(
        agreement=agreement,
        premises=agreement.premise_list,
        link_url=affirmation_url(placeholder),
        now=now,
    )
    # Last in the transaction: the chain head stays locked until commit, and
    # every writer of the record waits for it.
    records_append_many(
        entries=[
            Entry(RecordEvent.REQUEST_CREATED, agreement.pk, agreement.csp_id,
                  _request_details(agreement)),
            Entry(RecordEvent.EMAIL_QUEUED, agreement.pk, agreement.csp_id,
                  {"kind": email.kind, "email_id": email.pk,
                   "link_expires_at": agreement.affirmation_expires_at}),
        ],
        actor=actor,
        now=now,
    )  # fmt: skip


def _request_details(agreement):
    return {
        **_transition("", AgreementStatus.PENDING_AFFIRMATION),
        "premises": [
            {"esi_id": p.esi_id, "large_commercial": p.large_commercial}
            for p in agreement.premise_list
        ],
        "term_months": agreement.term_months,
        "max_term_months": agreement.max_term_months,
        "language": agreement.language,
        "customer_email": mask_email(agreement.customer_email),
        "confirmation_code": agreement.confirmation_code,
        "affirmation_expires_at": agreement.affirmation_expires_at,
    }


# --- Reminder ----------------------------------------------------------------------


def agreement_remind(*, agreement, actor, now):
    """Send the pending request's email once more, with a new link and the
    same deadline. Raises ``ReminderAlreadySent`` or ``AgreementNotPending``."""
    placeholder, token_hash = link_token_new()
    with transaction.atomic():
        changed = Agreement.objects.filter(
            pk=agreement.pk,
            status=AgreementStatus.PENDING_AFFIRMATION,
            affirmation_expires_at__gte=now,
            reminder_sent_at__isnull=True,
        ).update(reminder_sent_at=now)
        current = Agreement.objects.select_related("csp").get(pk=agreement.pk)
        if not changed:
            _refuse_reminder(current, now)
        _link_create(agreement=current, token_hash=token_hash, now=now)
        email = emails.email_affirmation_reminder(
            agreement=current,
            premises=list(current.premises.all()),
            link_url=affirmation_url(placeholder),
            now=now,
        )
        record_append(
            event=RecordEvent.REMINDER_SENT, actor=actor, now=now, agreement=current,
            details={"kind": email.kind, "email_id": email.pk,
                     "link_expires_at": current.affirmation_expires_at},
        )  # fmt: skip
    return current


def _refuse_reminder(agreement, now):
    if agreement.status != AgreementStatus.PENDING_AFFIRMATION:
        raise AgreementNotPending(
            f"This agreement is {agreement.status}; only a pending request is reminded."
        )
    if agreement.affirmation_expires_at < now:
        raise AgreementNotPending("This request's deadline has passed.")
    raise ReminderAlreadySent("A reminder was already sent for this request; only one is allowed.")


# --- Ending an agreement -------------------------------------------------------------


def termination_url(placeholder: str) -> str:
    path = reverse("affirmations:end", args=["TOKEN"]).replace("TOKEN", placeholder)
    return settings.SITE_URL + path


def _termination_link_new(agreement_id, *, expires_at, now):
    """A sealed link that ends the agreement, valid until its term ends; its URL."""
    placeholder, token_hash = sealed_tokens.sealed_token_new(LinkPurpose.TERMINATION.value)
    AgreementLink.objects.create(
        agreement_id=agreement_id, purpose=LinkPurpose.TERMINATION, token_hash=token_hash,
        created_at=now, expires_at=expires_at,
    )  # fmt: skip
    return termination_url(placeholder)


def _termination_link_renew(agreement, now):
    """After a renewal: the links already sent keep working to the new term
    end (the customer may keep the first receipt), and the receipt gets its own."""
    AgreementLink.objects.filter(agreement=agreement, purpose=LinkPurpose.TERMINATION).update(
        expires_at=agreement.term_end
    )
    return _termination_link_new(agreement.pk, expires_at=agreement.term_end, now=now)


def termination_link_find(*, token: str):
    """The termination link a token opens, with its agreement and CSP, or ``None``."""
    return agreement_link_find(token=token, purpose=LinkPurpose.TERMINATION)


def agreement_end_by_customer(*, link, ip, user_agent, now):
    """The customer ends the sharing with the link of their receipt (no account
    needed). Raises ``AgreementNotOpen`` once the agreement or its term ended."""
    if link.expires_at <= now:
        raise AgreementNotOpen("This agreement's term has ended.")
    return agreement_terminate(
        agreement=link.agreement, ended_by=EndedBy.CUSTOMER,
        reason="The customer ended the sharing.",
        actor=Actor.customer(ip=ip, user_agent=user_agent), now=now,
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

        def notify(moved):
            current = Agreement.objects.select_related("csp").get(pk=locked.pk)
            was_active = moved[0].from_status == AgreementStatus.ACTIVE
            email = _email_ended(current, was_active=was_active, now=now)
            return {locked.pk: {"email_id": email.pk if email else None}}

        agreements_transition(
            due=Agreement.objects.filter(pk=locked.pk), to_status=to_status,
            record_event=RecordEvent.REVOKED if revoked else RecordEvent.TERMINATED,
            actor=actor, now=now, ended_by=ended_by, reason=reason,
            details={"ended_by": ended_by, "reason": reason}, after_update=notify,
        )  # fmt: skip
    return Agreement.objects.select_related("csp").get(pk=locked.pk)


def _email_ended(agreement, *, was_active, now):
    premises = list(agreement.premises.all())
    if agreement.status == AgreementStatus.REVOKED:
        if not was_active:
            return None  # nothing was shared, nothing to tell
        return emails.email_agreement_revoked(agreement=agreement, premises=premises, now=now)
    return emails.email_agreement_terminated(
        agreement=agreement, premises=premises, was_active=was_active, now=now
    )


def agreements_revoke_for_csp(*, csp, actor, reason, now, ended_by=EndedBy.COMMITTEE):
    """Revoke every pending and active agreement of ``csp`` at once (a CSP's
    revocation); email each active agreement's customer. Returns the ids."""

    def notify(moved):
        active = [m.agreement_id for m in moved if m.from_status == AgreementStatus.ACTIVE]
        emailed = _email_revoked_many(active, now)
        return {m.agreement_id: {"email_id": emailed.get(m.agreement_id)} for m in moved}

    moved = agreements_transition(
        due=Agreement.objects.filter(csp=csp), to_status=AgreementStatus.REVOKED,
        record_event=RecordEvent.REVOKED, actor=actor, now=now, ended_by=ended_by,
        reason=reason, details={"ended_by": ended_by, "reason": reason}, after_update=notify,
    )  # fmt: skip
    return [m.agreement_id for m in moved]


def _email_revoked_many(ids, now):
    agreements = (
        Agreement.objects.filter(pk__in=ids).select_related("csp").prefetch_related("premises")
    )
    return {
        agreement.pk: emails.email_agreement_revoked(
            agreement=agreement, premises=list(agreement.premises.all()), now=now
        ).pk
        for agreement in agreements
    }


def _append_in_chunks(entries, *, actor, now):
    for start in range(0, len(entries), RECORD_CHUNK):
        records_append_many(entries=entries[start : start + RECORD_CHUNK], actor=actor, now=now)


# --- Sweeps (Celery beat; ``manage.py run_jobs``) --------------------------------------


def agreements_time_out(*, now):
    """Every request still pending after its deadline → ``timed_out`` (R9).

    Set-based: the rows are locked and read once (their ids go into the
    record), then changed with one UPDATE. Selecting by the deadline column
    means a missed run simply catches up. Returns how many timed out.
    """
    due = Agreement.objects.filter(
        status=AgreementStatus.PENDING_AFFIRMATION, affirmation_expires_at__lt=now
    )
    return _sweep(
        due, to_status=AgreementStatus.TIMED_OUT, event=RecordEvent.TIMED_OUT,
        reason="No answer within five weekdays.", now=now,
    )  # fmt: skip


def agreements_end_terms(*, now):
    """Every active agreement whose term has run out → ``term_ended``, with a
    receipt to each customer."""
    due = Agreement.objects.filter(status=AgreementStatus.ACTIVE, term_end__lte=now)
    return _sweep(
        due, to_status=AgreementStatus.TERM_ENDED, event=RecordEvent.TERM_ENDED,
        reason="The term ran out.", now=now, notify=_email_term_ended_many,
    )  # fmt: skip


def _email_term_ended_many(ids, now):
    """One receipt per agreement, built chunk by chunk with the provider and
    premises prefetched: three queries per chunk, whatever its size."""
    for start in range(0, len(ids), RECORD_CHUNK):
        agreements = (
            Agreement.objects.filter(pk__in=ids[start : start + RECORD_CHUNK])
            .select_related("csp", "disclosure")
            .prefetch_related("premises")
        )
        emails.emails_receipt_term_ended_many(agreements=agreements, now=now)


def _sweep(due, *, to_status, event, reason, now, notify=None):
    def after_update(moved):
        if notify is not None:
            notify([m.agreement_id for m in moved], now)
        return {}

    moved = agreements_transition(
        due=due, to_status=to_status, record_event=event, actor=Actor.system(), now=now,
        ended_by=EndedBy.SYSTEM, reason=reason, after_update=after_update,
    )  # fmt: skip
    return len(moved)


# --- The customer's decision (R6–R8, R10, R13) -------------------------------------------
#
# A decision is taken under a row lock on the agreement, so however many tabs,
# clicks or concurrent submissions arrive, the first one decides and every
# other one finds ``DecisionAlreadyMade``. The bot challenge is the view's
# business (it is about the HTTP request); everything else is checked here.


def disclosure_current():
    """The disclosures customers see and acknowledge now: the newest version."""
    return Disclosure.objects.order_by("-version").first()


def agreement_opt_in(*, agreement, ip, user_agent, disclosure, now):
    """The customer agrees: the agreement becomes ``active`` and its term starts now.

    Raises ``CspNotActive`` (a suspended or revoked provider cannot be opted
    into), ``DisclosureOutdated``, ``DecisionAlreadyMade`` or ``RequestTimedOut``.
    """
    with transaction.atomic():
        # The provider's row first, as a request does (same lock order, so no
        # deadlock with a revocation): a suspension waits for this opt-in or
        # this opt-in sees it.
        _lock_active_csp(agreement.csp)
        locked = _lock_undecided(agreement, now)
        _check_disclosure(disclosure)
        start, end = now, term_end(now, locked.term_months)
        # The customer has no account: the receipt's link is how they end it.
        end_url = _termination_link_new(locked.pk, expires_at=end, now=now)
        receipt = partial(emails.email_receipt_opted_in, end_url=end_url)
        agreements_transition(
            due=Agreement.objects.filter(pk=locked.pk, status=AgreementStatus.PENDING_AFFIRMATION),
            to_status=AgreementStatus.ACTIVE, record_event=RecordEvent.OPTED_IN,
            actor=Actor.customer(ip=ip, user_agent=user_agent), now=now,
            columns={"decided_at": now, "affirmed_at": now, "disclosure": disclosure,
                     "term_start": start, "term_end": end},
            details={"disclosure_version": disclosure.version, "term_start": start,
                     "term_end": end},
            after_update=_receipt(locked.pk, receipt, now),
        )  # fmt: skip
        return _decided(locked.pk)


def agreement_opt_out(*, agreement, ip, user_agent, now):
    """The customer declines: ``opted_out``. Possible even while the provider
    is suspended: saying no never needs the provider's standing."""
    return _decline(
        agreement, to_status=AgreementStatus.OPTED_OUT, event=RecordEvent.OPTED_OUT,
        email=emails.email_receipt_opted_out, reason="The customer opted out.",
        actor=Actor.customer(ip=ip, user_agent=user_agent), now=now,
    )  # fmt: skip


def agreement_report_spam(*, agreement, ip, user_agent, now):
    """The customer did not ask for this: ``reported_spam`` (counted apart from
    an opt-out by monitoring, and it starts the provider's cooldown)."""
    return _decline(
        agreement, to_status=AgreementStatus.REPORTED_SPAM, event=RecordEvent.REPORTED_SPAM,
        email=emails.email_receipt_reported_spam,
        reason="The customer reported the request as spam.",
        actor=Actor.customer(ip=ip, user_agent=user_agent), now=now,
    )  # fmt: skip


def _decline(agreement, *, to_status, event, email, reason, actor, now):
    with transaction.atomic():
        locked = _lock_undecided(agreement, now)
        agreements_transition(
            due=Agreement.objects.filter(pk=locked.pk, status=AgreementStatus.PENDING_AFFIRMATION),
            to_status=to_status, record_event=event, actor=actor, now=now,
            ended_by=EndedBy.CUSTOMER, reason=reason, columns={"decided_at": now},
            details={"reason": reason}, after_update=_receipt(locked.pk, email, now),
        )  # fmt: skip
        return _decided(locked.pk)


def _lock_undecided(agreement, now):
    """The agreement under a row lock, if the customer can still decide it."""
    locked = Agreement.objects.select_for_update().get(pk=agreement.pk)
    if locked.status != AgreementStatus.PENDING_AFFIRMATION:
        raise DecisionAlreadyMade(f"This request was already answered ({locked.status}).")
    # The sweep may not have run yet: the deadline itself decides.
    if locked.affirmation_expires_at < now:
        raise RequestTimedOut("This request's deadline has passed.")
    return locked


def _check_disclosure(disclosure):
    current = disclosure_current()
    if disclosure is None or current is None or disclosure.pk != current.pk:
        raise DisclosureOutdated("The disclosures changed; read and acknowledge the new version.")


def _receipt(agreement_id, email, now):
    """An ``after_update`` that queues the decision's receipt and records its id."""

    def queue(moved):
        current = _decided(agreement_id)
        sent = email(agreement=current, premises=list(current.premises.all()), now=now)
        return {agreement_id: {"email_id": sent.pk}}

    return queue


def _decided(agreement_id):
    return Agreement.objects.select_related("csp", "disclosure").get(pk=agreement_id)


# --- Renewals (R12) ------------------------------------------------------------------------


def renewal_url(placeholder: str) -> str:
    path = reverse("affirmations:renew", args=["TOKEN"]).replace("TOKEN", placeholder)
    return settings.SITE_URL + path


def renewal_link_find(*, token: str):
    """The renewal link a token opens, with its renewal, agreement and CSP, or ``None``."""
    link = agreement_link_find(token=token, purpose=LinkPurpose.RENEWAL)
    return link if link is not None and link.renewal_id is not None else None


def agreement_renewal_request(*, agreement, customer_email, actor, now):
    """The CSP asks to renew an active agreement; the portal emails the customer (R4, R12).

    The request goes to ``customer_email``, the address the CSP names. Every
    premise large commercial and that address the one that last affirmed
    (``agreement_affirmed_email``, case aside): a one-click renewal for the
    original term. Otherwise the full affirmation, for the original term cut
    to the policy limit in force now; and when the address is another one,
    the affirmed address is told, with a "this was not me" report link
    (glossary, "Renewals"). Raises ``CspNotActive``, ``AgreementNotOpen`` or
    ``RenewalPending`` (one open renewal at a time).
    """
    placeholder, token_hash = sealed_tokens.sealed_token_new(LinkPurpose.RENEWAL.value)
    try:
        with transaction.atomic():
            _lock_active_csp(agreement.csp)
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


def agreement_renew(*, renewal, ip, user_agent, now, disclosure=None):
    """The customer renews: the term is extended by the renewal's term,
    starting when the current term ends (glossary, "Terms").

    A full-affirmation renewal needs the current ``disclosure`` (the view has
    checked the bot challenge); a one-click renewal needs nothing more.
    Raises ``CspNotActive``, ``RenewalNotPending``, ``AgreementNotOpen`` or
    ``DisclosureOutdated``.
    """
    with transaction.atomic():
        _lock_active_csp(renewal.agreement.csp)
        locked = Agreement.objects.select_for_update().get(pk=renewal.agreement_id)
        pending = _renewal_pending(renewal, now)
        if not can_end(locked, now):
            raise AgreementNotOpen("The agreement ended before it was renewed.")
        if pending.kind == RenewalKind.FULL_AFFIRMATION:
            _check_disclosure(disclosure)
        new_end = renewal_term_end(locked.term_end, pending.term_months)
        _renewal_decide(pending, RenewalStatus.RENEWED, now, disclosure=disclosure,
                        new_term_end=new_end)  # fmt: skip
        Agreement.objects.filter(pk=locked.pk).update(
            term_end=new_end, renewal_count=F("renewal_count") + 1
        )
        current = Agreement.objects.select_related("csp", "disclosure").get(pk=locked.pk)
        pending.refresh_from_db()
        sent = emails.email_receipt_renewed(
            agreement=current, premises=list(current.premises.all()), renewal=pending,
            end_url=_termination_link_renew(current, now), now=now,
        )  # fmt: skip
        agreement_events_emit(agreement_ids=[current.pk], record_event=RecordEvent.RENEWED, now=now)
        record_append(
            event=RecordEvent.RENEWED, now=now, agreement=current,
            actor=Actor.customer(ip=ip, user_agent=user_agent),
            details={"renewal_id": pending.pk, "kind": pending.kind,
                     "disclosure_version": disclosure.version if disclosure else None,
                     "previous_term_end": locked.term_end, "term_end": new_end,
                     "email_id": sent.pk},
        )  # fmt: skip
    return pending


def agreement_renewal_decline(*, renewal, ip, user_agent, now):
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
            actor=Actor.customer(ip=ip, user_agent=user_agent),
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
