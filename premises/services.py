"""Business rules about premises: large commercial customers, term limits, R3.

The one place for the large-commercial rule (glossary, R11), for the term
limit it implies, and for premise authentication (R3). Every attempt is handed
to the subscribers of ``authentication_attempts_subscribe`` (monitoring
records them, R18) in the caller's transaction: this app knows nothing of who
listens. Likewise each run that writes 15-minute days ends by telling the
subscribers of ``interval_writes_subscribe`` its batch (``data.available``).
"""

import hmac
import logging
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import (
    Case,
    DecimalField,
    F,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)

from premises.models import (
    AuthenticationFailure,
    CustomerClass,
    Meter,
    MonthlyUsage,
    Premise,
    RetailElectricProvider,
    TermPolicy,
)
from smt_portal.calendar import CENTRAL
from smt_portal.prepared_sql import ModelColumns, planned_once_cursor

logger = logging.getLogger(__name__)

USAGE_WINDOW_MONTHS = 12


# --- Large commercial customers (R11) --------------------------------------


def usage_window(*, now: datetime) -> tuple[date, date]:
    """The 12 complete billing months before ``now``: ``[first, end)`` as month starts.

    The local (Central) month of ``now`` is still running, so it is excluded.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be an aware datetime")
    end = now.astimezone(CENTRAL).date().replace(day=1)
    months_back = end.year * 12 + end.month - 1 - USAGE_WINDOW_MONTHS
    return date(months_back // 12, months_back % 12 + 1, 1), end


def _peak_kwh_subquery(*, now: datetime) -> Subquery:
    """Per premise (``OuterRef("pk")``): the highest monthly kWh in the window, or NULL.

    Read from the usage rows themselves: the definition the stored peak
    (``premises_usage_peaks_refresh``) is computed by.
    """
    first, end = usage_window(now=now)
    peak = (
        MonthlyUsage.objects.filter(premise=OuterRef("pk"), month__gte=first, month__lt=end)
        .order_by()
        .values("premise")
        .annotate(peak=Max("kwh"))
        .values("peak")
    )
    return Subquery(peak, output_field=_KWH)


_KWH = DecimalField(max_digits=12, decimal_places=3)


def usage_peak(*, monthly_kwh, now: datetime):
    """``_peak_kwh_subquery`` for usage still in memory (``{month: kWh}``), for a
    writer that stores the peak with the premise (``generate_premises``)."""
    first, end = usage_window(now=now)
    return max((kwh for month, kwh in monthly_kwh.items() if first <= month < end), default=None)


def _peak_kwh(*, now: datetime) -> Case:
    """Per premise: the peak of the window of ``now``, as ``_peak_kwh_subquery``
    gives it, but read from the premise row when it was stored for that window
    (the usage is read only for a premise whose stored peak is of another window
    or was cleared by a usage write), and not at all for a non-commercial premise,
    whose classification does not depend on it."""
    _, end = usage_window(now=now)
    return Case(
        When(~Q(customer_class=CustomerClass.COMMERCIAL), then=Value(None, output_field=_KWH)),
        When(usage_peak_window_end=end, then=F("usage_peak_kwh")),
        default=_peak_kwh_subquery(now=now),
        output_field=_KWH,
    )


def premises_usage_peaks_refresh(*, premises=None, now: datetime) -> int:
    """Store each premise's peak of the window of ``now`` (all premises when
    ``premises`` is None, else that queryset of premises or those ids), in one
    UPDATE; callers with millions of premises pass them in slices.

    Run by every usage writer after its writes (``import_usage``,
    ``generate_premises``), and for every stale premise hourly
    (``premises_usage_peaks_refresh_stale``), since the window moves with the
    month. Returns the number of premises updated.
    """
    _, end = usage_window(now=now)
    if premises is None:
        rows = Premise.objects.all()
    elif isinstance(premises, QuerySet):
        rows = premises
    else:
        rows = Premise.objects.filter(pk__in=list(premises))
    with transaction.atomic(savepoint=False):
        if connection.features.has_select_for_update:
            # Lock first, then read the usage in a second statement: its snapshot
            # sees every usage write committed before the locks were granted, and
            # a later write's trigger waits for this transaction, then clears.
            list(rows.select_for_update().values_list("pk", flat=True))
        return rows.update(usage_peak_kwh=_peak_kwh_subquery(now=now), usage_peak_window_end=end)


def _is_large_commercial(*, customer_class: str, peak_kwh, policy: TermPolicy) -> bool:
    # No usage in the window (peak is NULL) means not large commercial.
    return (
        customer_class == CustomerClass.COMMERCIAL
        and peak_kwh is not None
        and peak_kwh >= policy.large_commercial_threshold_kwh
    )


def premises_large_commercial(
    *, premise_ids, now: datetime, policy: TermPolicy | None = None
) -> dict[int, bool]:
    """The large-commercial classification of each premise, in one query.

    Ids of premises that do not exist are absent from the result.
    """
    policy = policy or TermPolicy.current()
    rows = (
        Premise.objects.filter(pk__in=list(premise_ids))
        .annotate(peak_kwh=_peak_kwh(now=now))
        .values_list("pk", "customer_class", "peak_kwh")
    )
    return {
        pk: _is_large_commercial(customer_class=customer_class, peak_kwh=peak, policy=policy)
        for pk, customer_class, peak in rows
    }


def premise_is_large_commercial(
    *, premise: Premise, now: datetime, policy: TermPolicy | None = None
) -> bool:
    if premise.customer_class != CustomerClass.COMMERCIAL:
        return False  # no need to read the usage
    result = premises_large_commercial(premise_ids=[premise.pk], now=now, policy=policy)
    return result.get(premise.pk, False)


def premises_usage_peaks_refresh_stale(*, now: datetime, slice_size: int = 50_000) -> int:
    """Store the peak of the window of ``now`` for every premise whose stored
    peak is of another window or was cleared by a usage write, ``slice_size``
    premises per transaction; returns how many. Hourly (``premises.tasks``) and
    ``manage.py refresh_usage_peaks``: after the month turns, the first run
    stores every premise's new peak; later runs find only the premises whose
    usage some writer changed without storing their peak."""
    _, end = usage_window(now=now)
    stale = Premise.objects.exclude(usage_peak_window_end=end).order_by("pk")
    updated, after = 0, 0
    while ids := list(stale.filter(pk__gt=after).values_list("pk", flat=True)[:slice_size]):
        updated += premises_usage_peaks_refresh(premises=ids, now=now)
        after = ids[-1]
    return updated


# --- Term limits (R11, R12) -------------------------------------------------


def term_limit_months(*, large_commercial: bool, policy: TermPolicy) -> int:
    """The longest term one premise may agree to."""
    if large_commercial:
        return policy.large_commercial_max_months
    return policy.standard_max_months


def max_term_months_for(*, all_large_commercial: bool, policy: TermPolicy) -> int:
    """The longest term of an agreement: beyond the policy limit only if every
    premise it covers is large commercial (glossary, "Terms")."""
    return term_limit_months(large_commercial=all_large_commercial, policy=policy)


# --- Move-ins (glossary, "move-in ends consent") ---------------------------------

_occupant_subscribers = []


def occupants_changed_subscribe(subscriber) -> None:
    """Call ``subscriber(premise_ids=[...], now=)`` when premises get a new
    ``occupant_since``, in the transaction that wrote it (affirmations ends the
    former customer's agreements): this app knows nothing of who listens."""
    if subscriber not in _occupant_subscribers:
        _occupant_subscribers.append(subscriber)


def occupants_changed_notify(*, premise_ids, now: datetime) -> None:
    """Tell the subscribers that these premises have a new occupant since
    (their ``occupant_since`` is already written)."""
    for subscriber in _occupant_subscribers:
        subscriber(premise_ids=list(premise_ids), now=now)


# --- Interval writes (data.available) --------------------------------------

_interval_write_subscribers = []


def interval_writes_subscribe(subscriber) -> None:
    """Call ``subscriber(batch=<uuid>, now=)`` once per run of ``import_intervals``
    or ``generate_intervals``, after its writes committed: the premises and day
    ranges written are the ``IntervalWrite`` rows of that batch."""
    if subscriber not in _interval_write_subscribers:
        _interval_write_subscribers.append(subscriber)


def interval_writes_notify(*, batch, now: datetime) -> None:
    """Tell the subscribers a run's days are written. A subscriber that fails is
    logged and undoes nothing of the run (its rows stay for the next sweep)."""
    for subscriber in list(_interval_write_subscribers):
        try:
            with transaction.atomic():
                subscriber(batch=batch, now=now)
        except Exception:
            logger.exception("interval writes subscriber %r failed on batch %s", subscriber, batch)


# --- Premise authentication (R3, R18) ---------------------------------------


@dataclass(frozen=True)
class PremiseAuthentication:
    """The outcome shown to the caller. A failure carries nothing that says
    which fact was wrong: every failed result is equal to every other."""

    authenticated: bool
    premise: Premise | None = None
    large_commercial: bool = False
    max_term_months: int | None = None


FAILED = PremiseAuthentication(authenticated=False)


@dataclass(frozen=True)
class AuthenticationAttempt:
    """One premise checked, as compared (normalised), with the staff-only reason it failed."""

    esi_id: str
    meter_number: str
    rep_certificate_number: str
    failure_reason: str  # "" when authenticated
    premise: Premise | None


_attempt_subscribers = []


def authentication_attempts_subscribe(subscriber) -> None:
    """Call ``subscriber(attempts=[...], csp=, ip=, now=)`` after every live authentication."""
    if subscriber not in _attempt_subscribers:
        _attempt_subscribers.append(subscriber)


def premise_authenticate(
    *,
    esi_id: str,
    meter_number: str,
    rep_certificate_number: str,
    csp=None,
    ip: str | None = None,
    now: datetime,
    policy: TermPolicy | None = None,
    sandbox: bool = False,
) -> PremiseAuthentication:
    """Authenticate one premise by its three facts and record the attempt.

    Identifiers must already be normalised (``premises.identifiers``).
    """
    [result] = premises_authenticate(
        triples=[(esi_id, meter_number, rep_certificate_number)],
        csp=csp,
        ip=ip,
        now=now,
        policy=policy,
        sandbox=sandbox,
    )
    return result


def premises_authenticate(
    *,
    triples: list[tuple[str, str, str]],
    csp=None,
    ip: str | None = None,
    now: datetime,
    policy: TermPolicy | None = None,
    sandbox: bool = False,
) -> list[PremiseAuthentication]:
    """Authenticate many premises at once, one result per triple, in order.

    ``sandbox`` (a sandbox key's call) finds only sandbox premises, and a live
    call only live ones: the other kind is an unknown ESI ID.

    A constant number of queries whatever the number of triples (the agreements
    API sends up to 200): the policy, one joined lookup, one bulk insert of the
    attempts. Every path runs the same queries and the same comparisons, so a
    failure takes as long whichever fact was wrong.
    """
    premises, policy_found = _premises_for_authentication(
        esi_ids={t[0] for t in triples}, now=now, sandbox=sandbox
    )
    if policy is None and premises:
        # Read with the premises; only a database never given a policy has none yet.
        policy = policy_found or TermPolicy.current()
    results, attempts = [], []
    for esi_id, meter_number, certificate_number in triples:
        premise = premises.get(esi_id)
        reason = _failure_reason(premise, meter_number, certificate_number)
        attempts.append(
            AuthenticationAttempt(
                esi_id=esi_id,
                meter_number=meter_number,
                rep_certificate_number=certificate_number,
                failure_reason=reason,
                premise=premise,
            )
        )
        results.append(FAILED if reason else _success(premise, policy))
    # Sandbox checks (of published test premises) are not attempts monitoring counts.
    for subscriber in [] if sandbox else _attempt_subscribers:
        subscriber(attempts=attempts, csp=csp, ip=ip, now=now)
    return results


def _premises_for_authentication(
    *, esi_ids: set[str], now: datetime, sandbox: bool = False
) -> tuple[dict[str, Premise], TermPolicy | None]:
    """The premises named, each with its active meter number, its ROR's
    certificate number and its peak usage (as ``_peak_kwh`` defines it), and
    the term policy (``None`` when no premise matched or no policy row exists
    yet), in one query.

    Written as SQL, not as the ORM's annotated queryset: on the hottest path
    of the API, building and compiling that queryset cost three times what the
    database spends answering it, and the policy read with it saves a round
    trip (bench/README.md, issue 16). ``test_usage_peak_precomputed`` holds
    the peak equal to the ORM's.
    """
    if not esi_ids:
        return {}, None
    first, end = usage_window(now=now)
    if connection.vendor == "postgresql":
        # One statement text whatever the number of premises: planned once.
        named, names = "p.esi_id = ANY(%s)", [sorted(esi_ids)]
    else:
        named, names = f"p.esi_id IN ({', '.join(['%s'] * len(esi_ids))})", sorted(esi_ids)
    sql = _AUTHENTICATION_LOOKUP.format(named=named)
    params = [CustomerClass.COMMERCIAL, end, first, end, *names, sandbox]
    with planned_once_cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    found, policy = {}, None
    extra = _PREMISE_COLUMNS.width
    for row in rows:
        premise = _PREMISE_COLUMNS.instance(row)
        premise.rep_certificate_number, premise.active_meter_number, peak = row[extra : extra + 3]
        premise.peak_kwh = _as_kwh(peak)
        found[premise.esi_id] = premise
        if policy is None and row[extra + 3] is not None:
            policy = _POLICY_COLUMNS.instance(row, start=extra + 3)
    return found, policy


_PREMISE_COLUMNS = ModelColumns(Premise, "p")
# What authentication reads of the policy (its id first); the rest stays deferred.
_POLICY_COLUMNS = ModelColumns(
    TermPolicy, "policy",
    only=["id", "standard_max_months", "large_commercial_max_months",
          "large_commercial_threshold_kwh"],
)  # fmt: skip
_AUTHENTICATION_LOOKUP = f"""
    SELECT {_PREMISE_COLUMNS.sql}, r.certificate_number,
           (SELECT m.number FROM {Meter._meta.db_table} m
             WHERE m.premise_id = p.id AND m.removed_on IS NULL LIMIT 1),
           CASE WHEN p.customer_class <> %s THEN NULL
                WHEN p.usage_peak_window_end = %s THEN p.usage_peak_kwh
                ELSE (SELECT MAX(u.kwh) FROM {MonthlyUsage._meta.db_table} u
                       WHERE u.premise_id = p.id AND u.month >= %s AND u.month < %s)
           END,
           {_POLICY_COLUMNS.sql}
      FROM {Premise._meta.db_table} p
      JOIN {RetailElectricProvider._meta.db_table} r ON r.id = p.rep_of_record_id
      LEFT JOIN {TermPolicy._meta.db_table} policy ON policy.id = 1
     WHERE {{named}} AND p.sandbox = %s
"""  # noqa: S608 (table names from the models; every value bound)


_THOUSANDTH = Decimal("0.001")


def _as_kwh(value):
    # A computed column comes back as the driver gives it (a float on SQLite):
    # as a Decimal of the column's three places, the ORM's own conversion.
    if value is None or isinstance(value, Decimal):
        return value
    return Decimal(str(value)).quantize(_THOUSANDTH)


# Compared against when the ESI ID is unknown, so that path does the same work.
_NO_VALUE = b"\x00" * 32


def _failure_reason(premise: Premise | None, meter_number: str, certificate_number: str) -> str:
    """``""`` when all three facts match, else the first wrong one (staff-only)."""
    if premise is None:
        expected_meter = expected_certificate = _NO_VALUE
    else:
        # A premise without an active meter authenticates with no meter number.
        meter = premise.active_meter_number
        expected_meter = meter.encode() if meter else _NO_VALUE
        expected_certificate = premise.rep_certificate_number.encode()
    # Both comparisons always run (no short circuit) and in constant time.
    meter_ok = hmac.compare_digest(expected_meter, meter_number.encode())
    certificate_ok = hmac.compare_digest(expected_certificate, certificate_number.encode())
    if premise is None:
        return AuthenticationFailure.UNKNOWN_ESI_ID
    if not meter_ok:
        return AuthenticationFailure.METER_MISMATCH
    if not certificate_ok:
        return AuthenticationFailure.REP_MISMATCH
    return ""


def _success(premise: Premise, policy: TermPolicy) -> PremiseAuthentication:
    large = _is_large_commercial(
        customer_class=premise.customer_class, peak_kwh=premise.peak_kwh, policy=policy
    )
    return PremiseAuthentication(
        authenticated=True,
        premise=premise,
        large_commercial=large,
        max_term_months=term_limit_months(large_commercial=large, policy=policy),
    )
