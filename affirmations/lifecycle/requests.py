"""A CSP asks: the request (R3, R4, R6), the guards other apps add, and the one reminder."""

from dataclasses import dataclass

from django.db import DEFAULT_DB_ALIAS, IntegrityError, connection, connections, transaction
from django.db.models import Field

from csp_registry.models import CspStatus
from outbox.services import email_queued
from premises.models import TermPolicy
from premises.sandbox import is_sandbox_address
from premises.services import max_term_months_for, premises_authenticate
from smt_portal.calendar import (
    affirmation_deadline,
    configured_holidays,
)
from smt_portal.prepared_sql import planned_once_cursor

from .. import emails
from ..holidays import holidays_prime
from ..masking import mask_email
from ..models import (
    Agreement,
    AgreementPremise,
    AgreementStatus,
    Holiday,
    RecordEvent,
)
from ..records import Entry, record_append, records_append_many
from .errors import (
    AgreementNotPending,
    AuthenticationFailed,
    CspNotActive,
    CspProfileIncomplete,
    DuplicateAgreement,
    ReminderAlreadySent,
    TermExceedsLimit,
)
from .links import (
    affirmation_url,
    confirmation_code_new,
    link_create,
    link_new,
    link_token_new,
)

MAX_PREMISES = 200


# --- Request ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Authenticated:
    premises: list  # Premise rows, in request order
    large_commercial: list  # bool per premise
    max_term_months: int
    # The policy's, stored with the agreement (R12); on PostgreSQL None here,
    # read with the provider's lock.
    renewal_window_days: int | None


def agreement_request(
    *, csp, premises, customer_email, term_months, language, actor, now, sandbox=False
):
    """Create a pending agreement and queue its affirmation email (R4, R6).

    ``sandbox`` (a sandbox key's request) authenticates only sandbox premises and
    makes a sandbox agreement, whose customer's answer is scripted by its address
    (``affirmations.sandbox``).

    ``premises`` are normalised ``(esi_id, meter_number, certificate_number)``
    triples of one customer. Raises ``CspNotActive``, ``CspProfileIncomplete``
    (its scope of use is missing in English or Spanish), ``AuthenticationFailed``,
    ``TermExceedsLimit`` or ``DuplicateAgreement``. Authentication attempts
    are recorded (for monitoring) even when the request is then refused.
    """
    _check_request_shape(premises, term_months)
    if sandbox and not is_sandbox_address(customer_email):
        # The API refuses it in words; no real person is ever asked by the sandbox.
        raise ValueError("a sandbox agreement's customer email is at the sandbox's domain")
    if csp.status != CspStatus.ACTIVE:
        raise CspNotActive("This CSP is not active and cannot start requests.")
    if not csp.has_scope_of_use:
        raise CspProfileIncomplete(
            "This CSP's statement of how it will use the data is missing in English or "
            "Spanish; it cannot start requests until portal staff add both."
        )
    checked = _authenticate(csp=csp, premises=premises, ip=actor.ip, now=now, sandbox=sandbox)
    if term_months > checked.max_term_months:
        raise TermExceedsLimit(checked.max_term_months)
    placeholder, token_hash = link_token_new()
    try:
        with transaction.atomic():
            locked = _lock_csp_and_refuse_duplicates(csp=csp, premises=checked.premises, now=now)
            _run_request_guards(
                csp=csp,
                premises=checked.premises,
                now=now,
                answers=None if locked is None else locked.guard_answers,
            )
            agreement, email = _agreement_create(
                csp=csp,
                checked=checked,
                customer_email=customer_email,
                term_months=term_months,
                language=language,
                now=now,
                sandbox=sandbox,
                link=(placeholder, token_hash),
                locked=locked,
            )
            _record_request(agreement=agreement, email=email, actor=actor, now=now)
    except IntegrityError:
        # A concurrent request for the same ESI ID committed first: the
        # partial unique index refused ours. Say so in the contract's terms.
        _refuse_duplicates(csp=csp, premises=checked.premises)
        raise
    if sandbox:
        from ..sandbox import sandbox_answer_schedule  # the script answers through decisions

        sandbox_answer_schedule(agreement)
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


def _authenticate(*, csp, premises, ip, now, sandbox=False):
    # On PostgreSQL the term policy is read with the premises (by
    # ``premises_authenticate``), and its renewal window and the holidays with
    # the provider's lock (``_lock_csp_and_refuse_duplicates``): no round trip
    # of their own.
    policy = None if connection.vendor == "postgresql" else TermPolicy.current()
    results = premises_authenticate(
        triples=list(premises), csp=csp, ip=ip, now=now, policy=policy, sandbox=sandbox
    )
    failed = [index for index, result in enumerate(results) if not result.authenticated]
    if failed:
        raise AuthenticationFailed(failed)
    large = [result.large_commercial for result in results]
    if policy is None:
        # Each premise's own limit, under the policy read with it: the agreement's
        # is the least of them (the policy's large commercial limit is never below
        # its standard one, a constraint of its table), as ``max_term_months_for``.
        maximum = min(result.max_term_months for result in results)
    else:
        maximum = max_term_months_for(all_large_commercial=all(large), policy=policy)
    return _Authenticated(
        premises=[result.premise for result in results],
        large_commercial=large,
        max_term_months=maximum,
        renewal_window_days=None if policy is None else policy.renewal_window_days,
    )


def lock_active_csp(csp):
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


@dataclass(frozen=True)
class _Locked:
    """What the provider's lock read besides its status (PostgreSQL)."""

    agreement_id: int  # reserved for the new agreement
    renewal_window_days: int | None  # the term policy's (None: no policy row yet)
    guard_answers: dict  # guard -> what its ``lock_fragment`` read


def _lock_csp_and_refuse_duplicates(*, csp, premises, now):
    """``lock_active_csp`` and ``_refuse_duplicates`` in one round trip on PostgreSQL,
    which also reserves the new agreement's id (so that its rows can all be
    written by one statement that knows it), reads the term policy's renewal
    window and the staff's holidays (kept as this web request's calendar for
    the deadline computed next) and the request guards' fragments (their
    answers checked after the duplicates, by ``_run_request_guards``):
    returns a ``_Locked``, None elsewhere.

    The open premises are read in the locking statement; one that a concurrent
    request commits after it is still refused by the partial unique index.
    """
    if connection.vendor != "postgresql":
        lock_active_csp(csp)
        _refuse_duplicates(csp=csp, premises=premises)
        return None
    table, opened = csp._meta.db_table, AgreementPremise._meta.db_table
    agreements, policy = Agreement._meta.db_table, TermPolicy._meta.db_table
    params = [[premise.pk for premise in premises]]
    fragments, fragment_guards = [], []
    for guard in _request_guards:
        lock_fragment = getattr(guard, "lock_fragment", None)
        if lock_fragment is not None:
            sql, guard_params = lock_fragment(csp=csp, premises=premises, now=now)
            fragments.append(f", ({sql})")
            params += guard_params
            fragment_guards.append(guard)
    with planned_once_cursor() as cursor:
        cursor.execute(
            f"SELECT c.status, ARRAY(SELECT o.esi_id FROM {opened} o"  # noqa: S608
            " WHERE o.csp_id = c.id AND o.is_open AND o.premise_id = ANY(%s)),"
            f" nextval(pg_get_serial_sequence('{agreements}', 'id')),"
            f" (SELECT t.renewal_window_days FROM {policy} t WHERE t.id = 1),"
            f" ARRAY(SELECT h.day FROM {Holiday._meta.db_table} h){''.join(fragments)}"
            f" FROM {table} c WHERE c.id = %s FOR SHARE OF c",
            [*params, csp.pk],
        )
        row = cursor.fetchone()
    if row is None or row[0] != CspStatus.ACTIVE:
        raise CspNotActive("This CSP is not active and cannot start requests.")
    if row[1]:
        raise DuplicateAgreement(sorted(row[1]))
    holidays_prime(frozenset(row[4]))
    return _Locked(
        agreement_id=row[2],
        renewal_window_days=row[3],
        guard_answers=dict(zip(fragment_guards, row[5:], strict=True)),
    )


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
    """Run ``guard(csp=, premises=, now=)`` before every request is created.

    On PostgreSQL a guard whose check is one read may save its round trip: it
    then also has ``guard.lock_fragment(csp=, premises=, now=)``, returning
    ``(sql, params)`` of one scalar subquery read in the provider's lock
    statement (same transaction, same order: after the duplicate check), and
    ``guard.lock_refuse(value, premises=)``, which raises as the guard would
    from what that subquery read."""
    if guard not in _request_guards:
        _request_guards.append(guard)


def _run_request_guards(*, csp, premises, now, answers=None):
    for guard in _request_guards:
        if answers is not None and guard in answers:
            guard.lock_refuse(answers[guard], premises=premises)
        else:
            guard(csp=csp, premises=premises, now=now)


def _agreement_create(
    *, csp, checked, customer_email, term_months, language, now, sandbox, link, locked
):
    """The agreement (its premises in ``premise_list``) and its affirmation email,
    written with the link: on PostgreSQL (the id reserved by the lock) one INSERT
    statement writes the four tables."""
    renewal_window_days = checked.renewal_window_days
    if renewal_window_days is None:  # read with the lock (a policy row exists by now)
        renewal_window_days = locked.renewal_window_days
        if renewal_window_days is None:
            renewal_window_days = TermPolicy.current().renewal_window_days
    agreement = Agreement(
        pk=None if locked is None else locked.agreement_id,
        csp=csp,
        sandbox=sandbox,
        status=AgreementStatus.PENDING_AFFIRMATION,
        customer_email=customer_email,
        language=language,
        term_months=term_months,
        max_term_months=checked.max_term_months,
        renewal_window_days=renewal_window_days,
        confirmation_code=confirmation_code_new(),
        created_at=now,
        affirmation_sent_at=now,
        affirmation_expires_at=affirmation_deadline(now, holidays=configured_holidays()),
    )
    rows = []
    if agreement.pk is None:  # no id known before the INSERT: the agreement goes first
        agreement.save(force_insert=True)
    else:
        rows.append(agreement)
    agreement.premise_list = [
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
    placeholder, token_hash = link
    email = emails.email_affirmation_request(
        agreement=agreement,
        premises=agreement.premise_list,
        link_url=affirmation_url(placeholder),
        now=now,
    )
    rows += [*agreement.premise_list, link_new(agreement=agreement, token_hash=token_hash, now=now)]
    rows.append(email)
    rows_insert(rows)
    email_queued(email)
    # What ``with_affirmation_email_status`` would read back: the API answers
    # the new request from the rows just written.
    agreement.affirmation_email_row_status = email.status
    return agreement, email


def rows_insert(rows):
    """INSERT unsaved model instances, in order, with one statement on PostgreSQL
    (one data-modifying ``WITH`` per model); elsewhere one ``bulk_create`` per
    model. Each row's id is set from the database unless given.

    Every concrete field is written as the ORM's INSERT would write it
    (``pre_save``, ``get_db_prep_save``); no signals are sent, as with
    ``bulk_create``. Rows of one model either all carry their id or none does.
    On PostgreSQL the statement (one text per model and row count) is
    prepared per connection and its values sent apart from it.
    """
    groups = {}
    for row in rows:
        groups.setdefault(type(row), []).append(row)
    if connection.vendor != "postgresql":
        for model, group in groups.items():
            model.objects.bulk_create(group)
        return
    db = connections[DEFAULT_DB_ALIAS]
    parts, reads, params = [], [], []
    for number, (model, group) in enumerate(groups.items()):
        given = group[0].pk is not None
        plan = _InsertPlan.of(model, given)
        for row in group:
            if (row.pk is not None) != given:
                raise ValueError(f"{model.__name__} rows either all carry their id or none does")
            for field, plain, prep in plan.preps:
                value = getattr(row, field.attname) if plain else field.pre_save(row, True)
                if hasattr(value, "resolve_expression"):
                    raise ValueError(f"{model.__name__}.{field.name}: an expression, not a value")
                params.append(prep(value, connection=db))
        parts.append(plan.part(number, len(group)))
        # Ids come from the sequence in the VALUES' order.
        reads.append(f"ARRAY(SELECT {plan.pk} FROM i{number} ORDER BY 1)")  # noqa: S608
    with planned_once_cursor() as cursor:
        cursor.execute(f"WITH {', '.join(parts)} SELECT {', '.join(reads)}", params)
        ids = cursor.fetchone()
    for (model, group), written in zip(groups.items(), ids, strict=True):
        if len(written) != len(group):
            raise RuntimeError(f"{model.__name__}: {len(written)} of {len(group)} rows written")
        for row, pk in zip(group, written, strict=True):
            row.pk = pk
            row._state.adding = False
            row._state.db = db.alias


class _InsertPlan:
    """``rows_insert``'s part for one model: its columns (the id's too when the
    rows carry it) and how each value is prepared, built once per process."""

    _built = {}

    @classmethod
    def of(cls, model, given):
        plan = cls._built.get((model, given))
        if plan is None:
            plan = cls._built[(model, given)] = cls(model, given)
        return plan

    def __init__(self, model, given):
        quote = connection.ops.quote_name
        pk = model._meta.pk
        fields = [f for f in model._meta.concrete_fields if given or f is not pk]
        # ``Field.pre_save`` itself only reads the attribute: read it directly.
        self.preps = [(f, type(f).pre_save is Field.pre_save, f.get_db_prep_save) for f in fields]
        self.pk = quote(pk.column)
        self.table = quote(model._meta.db_table)
        self.columns = ", ".join(quote(f.column) for f in fields)
        self.row = f"({', '.join(['%s'] * len(fields))})"

    def part(self, number, count):
        return (
            f"i{number} AS (INSERT INTO {self.table} ({self.columns})"  # noqa: S608
            f" VALUES {', '.join([self.row] * count)} RETURNING {self.pk})"
        )


def _record_request(*, agreement, email, actor, now):
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


def _transition(from_status, to_status):
    return {"from_status": str(from_status), "to_status": str(to_status)}


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
        link_create(agreement=current, token_hash=token_hash, now=now)
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
