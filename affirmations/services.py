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

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.urls import reverse

from csp_registry.models import CspStatus
from premises.models import TermPolicy
from premises.services import max_term_months_for, premises_authenticate
from smt_portal import sealed_tokens

from . import emails
from .calendar import affirmation_deadline, configured_holidays
from .masking import mask_email
from .models import (
    OPEN_STATUSES,
    Agreement,
    AgreementLink,
    AgreementPremise,
    AgreementStatus,
    EndedBy,
    LinkPurpose,
    RecordEvent,
    Renewal,
    RenewalStatus,
)
from .records import Actor, Entry, record_append, records_append_many

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


class AgreementNotPending(AgreementError):
    code = "agreement_not_pending"


class ReminderAlreadySent(AgreementError):
    code = "reminder_already_sent"


class AgreementNotOpen(AgreementError):
    # The contract's code for "this agreement is not in a state that allows it".
    code = "agreement_not_active"


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
        from_status = locked.status
        _close(Agreement.objects.filter(pk=locked.pk), to_status, ended_by, reason, now)
        current = Agreement.objects.select_related("csp").get(pk=locked.pk)
        email = _email_ended(current, was_active=from_status == AgreementStatus.ACTIVE, now=now)
        revoked = to_status == AgreementStatus.REVOKED
        record_append(
            event=RecordEvent.REVOKED if revoked else RecordEvent.TERMINATED,
            actor=actor, now=now, agreement=current,
            details={**_transition(from_status, to_status), "ended_by": ended_by,
                     "reason": reason, "email_id": email.pk if email else None},
        )  # fmt: skip
    return current


def _close(queryset, to_status, ended_by, reason, now):
    """Set a final status on the agreements of ``queryset`` and close their
    premises and pending renewals: three set-based UPDATEs."""
    ids = queryset.values("pk")
    AgreementPremise.objects.filter(agreement__in=ids, is_open=True).update(is_open=False)
    Renewal.objects.filter(agreement__in=ids, status=RenewalStatus.PENDING).update(
        status=RenewalStatus.CANCELLED, decided_at=now
    )
    return queryset.update(status=to_status, ended_at=now, ended_by=ended_by, end_reason=reason)


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
    with transaction.atomic():
        rows = list(
            Agreement.objects.select_for_update()
            .filter(csp=csp, status__in=OPEN_STATUSES)
            .order_by("pk")
            .values_list("pk", "status")
        )
        if not rows:
            return []
        ids = [pk for pk, _ in rows]
        _close(Agreement.objects.filter(pk__in=ids), AgreementStatus.REVOKED, ended_by, reason, now)
        active = {pk for pk, status in rows if status == AgreementStatus.ACTIVE}
        emailed = _email_revoked_many(active, now)
        entries = [
            Entry(RecordEvent.REVOKED, pk, csp.pk,
                  {**_transition(status, AgreementStatus.REVOKED), "ended_by": ended_by,
                   "reason": reason, "email_id": emailed.get(pk)})
            for pk, status in rows
        ]  # fmt: skip
        _append_in_chunks(entries, actor=actor, now=now)
    return ids


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
    """Every active agreement whose term has run out → ``term_ended``."""
    due = Agreement.objects.filter(status=AgreementStatus.ACTIVE, term_end__lte=now)
    return _sweep(
        due, to_status=AgreementStatus.TERM_ENDED, event=RecordEvent.TERM_ENDED,
        reason="The term ran out.", now=now,
    )  # fmt: skip


def _sweep(due, *, to_status, event, reason, now):
    with transaction.atomic():
        rows = list(due.select_for_update().order_by("pk").values_list("pk", "csp_id", "status"))
        if not rows:
            return 0
        # The rows are locked, so the same condition changes exactly them.
        _close(due, to_status, EndedBy.SYSTEM, reason, now)
        # Built chunk by chunk: a million entries never sit in memory at once.
        for start in range(0, len(rows), RECORD_CHUNK):
            entries = [
                Entry(event, pk, csp_id, _transition(status, to_status))
                for pk, csp_id, status in rows[start : start + RECORD_CHUNK]
            ]
            records_append_many(entries=entries, actor=Actor.system(), now=now)
    return len(rows)
