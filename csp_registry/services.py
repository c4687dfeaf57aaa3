"""Business rules of the CSP registry: applications, status changes, API keys.

Every status change goes through ``csp_change_status``, which locks the row,
refuses transitions the glossary does not allow, and appends a
``CspStatusChange``. Admin actions, the registration page and ``create_csp``
all call these functions.
"""

from datetime import timedelta

from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.dispatch import Signal

from smt_portal.actors import Actor, ActorType
from smt_portal.prepared_sql import ModelColumns, planned_once_cursor

from . import emails
from .events import EventDraft, events_emit
from .keys import generate_key, hash_key, key_matches, split_key
from .models import ApiKey, Csp, CspStatus, CspStatusChange, EventType, IdempotencyKey

ALLOWED_TRANSITIONS = {
    CspStatus.PENDING_REVIEW: {CspStatus.ACTIVE, CspStatus.REVOKED},
    CspStatus.ACTIVE: {CspStatus.SUSPENDED, CspStatus.REVOKED},
    CspStatus.SUSPENDED: {CspStatus.ACTIVE, CspStatus.REVOKED},
    CspStatus.REVOKED: set(),
}

# Sent inside the transaction of every status change, with ``csp`` and
# ``change``: other apps (agreements, enforcement notices) react in the same
# transaction without this app importing them.
csp_status_changed = Signal()

# Called inside the approval's transaction with ``csp``, ``now`` and ``actor``
# (the CSP portal invites the applicant's contact as its first admin); this app
# knows none of them. Registered in the subscribing app's ``ready()``.
_approved_subscribers = []


def csp_approved_subscribe(subscriber):
    """Run ``subscriber(csp=, now=, actor=)`` in every approval's transaction."""
    if subscriber not in _approved_subscribers:
        _approved_subscribers.append(subscriber)


# A key used within this window is not written again: one UPDATE a minute per
# key instead of one per request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class CspTransitionError(Exception):
    """A status change the rules refuse; ``str()`` is the message for people."""


def csp_change_status(*, csp, to_status, now, actor, reason="", from_statuses=None):
    """Move ``csp`` to ``to_status`` and record who (``actor``), when and why.

    The ``csp_status_changed`` receivers get the actor too. ``from_statuses``
    narrows the allowed starting points (rejecting an application is a
    revocation only a pending CSP may undergo).
    """
    with transaction.atomic():
        locked = Csp.objects.select_for_update().get(pk=csp.pk)
        _check_transition(locked, to_status, from_statuses)
        Csp.objects.filter(pk=csp.pk).update(status=to_status, status_changed_at=now)
        change = CspStatusChange.objects.create(
            csp=locked,
            from_status=locked.status,
            to_status=to_status,
            reason=reason,
            changed_by=actor.user,
            actor="" if actor.type == ActorType.STAFF and actor.user else actor.label,
            changed_at=now,
        )
        csp.status, csp.status_changed_at = to_status, now
        _emit_csp_event(csp, change, now)
        csp_status_changed.send(sender=Csp, csp=csp, change=change, actor=actor)
    return change


def _emit_csp_event(csp, change, now):
    """``csp.suspended`` and ``csp.reinstated`` (contract, "Webhooks"); other changes
    are not the CSP's to be told by event (a revoked CSP is told nothing)."""
    if change.to_status == CspStatus.SUSPENDED:
        event_type = EventType.CSP_SUSPENDED
    elif (change.from_status, change.to_status) == (CspStatus.SUSPENDED, CspStatus.ACTIVE):
        event_type = EventType.CSP_REINSTATED
    else:
        return
    data = {
        "csp": {
            "id": csp.pk,
            "status": change.to_status,
            "status_changed_at": now.isoformat(),
            "reason": change.reason,
        }
    }
    events_emit(drafts=[EventDraft(csp_id=csp.pk, type=event_type, data=data)], now=now)


def _check_transition(csp, to_status, from_statuses):
    allowed_from = from_statuses or list(ALLOWED_TRANSITIONS)
    if to_status in ALLOWED_TRANSITIONS[csp.status] and csp.status in allowed_from:
        return
    if csp.status == CspStatus.REVOKED:
        raise CspTransitionError(f"{csp} is revoked; revocation is final.")
    raise CspTransitionError(
        f"{csp} is {CspStatus(csp.status).label.lower()} and cannot become "
        f"{CspStatus(to_status).label.lower()}."
    )


def csp_apply(*, fields, now, language="en"):
    """A company's application from the registration page: pending review, receipt sent."""
    with transaction.atomic():
        csp = Csp.objects.create(**fields, status=CspStatus.PENDING_REVIEW, status_changed_at=now)
        CspStatusChange.objects.create(
            csp=csp, to_status=CspStatus.PENDING_REVIEW, actor="registration form", changed_at=now
        )
        emails.application_received(csp=csp, language=language, now=now)
    return csp


def csp_approve(*, csp, now, actor, reason=""):
    with transaction.atomic():
        change = csp_change_status(
            csp=csp,
            to_status=CspStatus.ACTIVE,
            now=now,
            actor=actor,
            reason=reason,
            from_statuses=[CspStatus.PENDING_REVIEW],
        )
        emails.application_approved(csp=csp, now=now)
        for subscriber in list(_approved_subscribers):
            subscriber(csp=csp, now=now, actor=actor)
    return change


def csp_reject(*, csp, now, reason, actor):
    """Turn down a pending application (a revocation, so final)."""
    with transaction.atomic():
        change = csp_change_status(
            csp=csp,
            to_status=CspStatus.REVOKED,
            now=now,
            actor=actor,
            reason=reason,
            from_statuses=[CspStatus.PENDING_REVIEW],
        )
        emails.application_rejected(csp=csp, reason=reason, now=now)
    return change


def csp_suspend(*, csp, now, reason, actor):
    return csp_change_status(
        csp=csp, to_status=CspStatus.SUSPENDED, now=now, actor=actor, reason=reason
    )


def csp_reinstate(*, csp, now, reason, actor):
    return csp_change_status(
        csp=csp,
        to_status=CspStatus.ACTIVE,
        now=now,
        actor=actor,
        reason=reason,
        from_statuses=[CspStatus.SUSPENDED],
    )


def csp_revoke(*, csp, now, reason, actor):
    """Final. The CSP's keys stop working for good, whoever revokes it; its
    agreements are revoked by the receiver of ``csp_status_changed``."""
    with transaction.atomic():
        change = csp_change_status(
            csp=csp, to_status=CspStatus.REVOKED, now=now, actor=actor, reason=reason
        )
        ApiKey.objects.filter(csp=csp, revoked_at__isnull=True).update(revoked_at=now)
    return change


# The facts ``create_csp`` takes (the contract's options), stored as given.
CREATE_FACTS = frozenset(
    {"scope_of_use", "scope_of_use_es", "website_url", "privacy_policy_url", "duns_number"}
)


class CspConflictError(Exception):
    """Another registration already holds that contact email."""


def csp_create_approved(*, name, email, now, facts=None):
    """An active CSP for ``create_csp``: ``(csp, created)``.

    ``facts`` are the registration facts the caller knows (``scope_of_use``,
    ``scope_of_use_es``, ``website_url``, ``privacy_policy_url``,
    ``duns_number``); nothing else is invented: what is missing stays blank
    for staff to add, and without a scope of use in both languages the CSP
    cannot start requests.

    Run again for the same provider it returns the CSP it made. Any other
    registration with that email — an application waiting for review, a
    suspended or revoked CSP, or a CSP of another name — is refused: the
    command must never approve, or hand a key for, a registration that
    someone else submitted and staff have not reviewed.
    """
    existing = Csp.objects.filter(contact_email__iexact=email).order_by("pk").first()
    if existing is None:
        return _csp_create_active(name=name, email=email, now=now, facts=facts or {}), True
    if existing.status != CspStatus.ACTIVE:
        raise CspConflictError(
            f"CSP #{existing.pk} with that email is {existing.status}: "
            "decide on it in the admin; create_csp does not take it over."
        )
    if existing.legal_name.casefold() != name.casefold():
        raise CspConflictError(
            f"CSP #{existing.pk} {existing.legal_name!r} already has that email; "
            f"it is not {name!r}."
        )
    return existing, False


def _csp_create_active(*, name, email, now, facts):
    unknown = set(facts) - CREATE_FACTS
    if unknown:
        raise TypeError(f"not registration facts: {sorted(unknown)}")
    with transaction.atomic():
        csp = Csp.objects.create(
            legal_name=name,
            contact_name=name,
            contact_email=email,
            contact_phone="",
            notice_email=email,
            **facts,
            status=CspStatus.PENDING_REVIEW,
            status_changed_at=now,
        )
        csp_change_status(
            csp=csp,
            to_status=CspStatus.ACTIVE,
            now=now,
            actor=Actor.system("create_csp command"),
            reason="created approved from the command line",
        )
    return csp


def csp_issue_key(*, csp, now, name="", expires_at=None, actor=None, sandbox=False):
    """A new key: ``(api_key, full_key)``. The full key exists only in this return value.

    A ``sandbox`` key (``smt_test_…``) acts only on sandbox premises and agreements."""
    for _attempt in range(5):
        prefix, full_key = generate_key(sandbox=sandbox)
        try:
            with transaction.atomic():
                api_key = ApiKey.objects.create(
                    csp=csp,
                    name=name,
                    prefix=prefix,
                    hashed_key=hash_key(full_key),
                    created_at=now,
                    created_by=actor.user if actor else None,
                    expires_at=expires_at,
                    sandbox=sandbox,
                )
        except IntegrityError:
            continue  # two keys drew the same prefix (1 in 2.8e12): draw again
        return api_key, full_key
    raise RuntimeError("could not draw an unused API key prefix")


def csp_revoke_key(*, api_key, now):
    """Revoke one key; ``False`` when it already was."""
    revoked = ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(revoked_at=now)
    if revoked:
        api_key.revoked_at = now
    return bool(revoked)


def csp_rotate_keys(*, csp, now, name=""):
    """Revoke every key of ``csp`` and issue one new one: ``(api_key, full_key)``."""
    with transaction.atomic():
        csp.api_keys.filter(revoked_at__isnull=True).update(revoked_at=now)
        return csp_issue_key(csp=csp, now=now, name=name)


def api_key_authenticate(*, full_key, now, record_use=True):
    """The usable key (with its CSP loaded in the same query) for ``full_key``, or ``None``.

    The CSP's status is not judged here: a key of a suspended CSP is still
    *its* key, and the caller answers 403 rather than 401. ``record_use=False``
    writes nothing: the caller records the use later (``api_key_record_use``),
    once the request is let through (the API, after its rate limits).
    """
    prefix = split_key(full_key)
    if prefix is None:
        return None
    api_key = api_key_judge(api_key=api_key_read(prefix), full_key=full_key, now=now)
    if api_key is not None and record_use:
        api_key_record_use(api_key=api_key, now=now)
    return api_key


def api_key_read(prefix):
    """The key with this prefix and its CSP, read in one prepared statement, or
    ``None``; not yet judged (``api_key_judge``)."""
    return _api_key_with_csp(prefix)


def api_key_judge(*, api_key, full_key, now):
    """``api_key`` (as read for ``full_key``'s prefix, or ``None``) if
    ``full_key`` is it and it may be used at ``now``, else ``None``."""
    if api_key is None or not key_matches(full_key, api_key.hashed_key):
        return None
    if not api_key.usable_at(now):
        # A revoked CSP's genuine key is still recognised, so its caller gets
        # the contract's 403 csp_not_active; revocation is final, so the key
        # never opens anything again.
        return api_key if api_key.csp.status == CspStatus.REVOKED else None
    return api_key


class _KeyWithCsp:
    """``ApiKey.objects.select_related("csp").filter(prefix=…)``, its SQL built
    once: on every API request the ORM compiled it afresh, 29 columns, for
    more than the database spent answering (issue 16)."""

    def __init__(self):
        self.key = ModelColumns(ApiKey, "k")
        self.csp = ModelColumns(Csp, "c")
        quote = connection.ops.quote_name
        self.sql = (
            f"SELECT {self.key.sql}, {self.csp.sql}"  # noqa: S608 (names from the models)
            f" FROM {quote(ApiKey._meta.db_table)} k"
            f" JOIN {quote(Csp._meta.db_table)} c"
            f" ON c.{quote(Csp._meta.pk.column)} = k.{quote(ApiKey._meta.get_field('csp').column)}"
            f" WHERE k.{quote(ApiKey._meta.get_field('prefix').column)} = %s"
        )

    def __call__(self, prefix):
        with planned_once_cursor() as cursor:
            cursor.execute(self.sql, [prefix])
            row = cursor.fetchone()
        if row is None:
            return None
        api_key = self.key.instance(row)
        api_key.csp = self.csp.instance(row, start=self.key.width)
        return api_key


_api_key_with_csp = _KeyWithCsp()


def api_key_record_use(*, api_key, now):
    """Set ``last_used_at`` (at most once per ``LAST_USED_RESOLUTION``)."""
    if not api_key.usable_at(now):
        return  # a revoked CSP's key opens nothing: its use is not recorded
    _record_use(api_key, now)


def _record_use(api_key, now):
    if api_key.last_used_at is not None and now - api_key.last_used_at < LAST_USED_RESOLUTION:
        return
    stale = Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_RESOLUTION)
    ApiKey.objects.filter(stale, pk=api_key.pk).update(last_used_at=now)
    api_key.last_used_at = now


def idempotency_keys_purge(*, now):
    """Forget Idempotency-Key rows past their ``expires_at``; returns how many."""
    deleted, _ = IdempotencyKey.objects.filter(expires_at__lt=now).delete()
    return deleted
