"""Monitoring and enforcement, one function per change.

- ``detectors_run`` runs every enabled detector and raises red flags
  (``flag_raise``: one per CSP, detector and window, however often it runs);
- ``report_submit`` stores a customer's report and opens its flag (or adds it to
  the flag its source opened);
- ``flag_dismiss`` / ``flag_escalate`` / ``flag_uphold`` / ``flag_suspend_csp``
  / ``flag_revoke_csp`` are the committee's decisions on a flag, each a
  conditional UPDATE recorded with actor and reason (``FlagAction``);
  suspending or revoking the CSP also closes its other unresolved flags
  (``flag_siblings``), each recorded as decided with the deciding flag;
- ``csp_enforce_suspend`` / ``csp_enforce_reinstate`` / ``csp_enforce_revoke``
  change a CSP's status through ``csp_registry.services`` (the suspension
  notice is queued by ``receivers.notify_suspended_csp``, so the CSP admin's
  own actions send it too);
- ``directive_carry_out`` carries out a Commission directive (R22);
- ``spam_cooldown_blocks`` tells the request service which premises are in
  a spam cooldown.

The admin actions, the public report page and the Celery task only call these.
"""

import json
import logging
import time
import zlib
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlencode

from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone

from affirmations.models import AgreementPremise, AgreementStatus
from affirmations.services import CooldownActive
from csp_registry.services import csp_reinstate, csp_revoke, csp_suspend
from smt_portal.actors import Actor
from smt_portal.client_ip import ip_source
from smt_portal.prepared_sql import PreparedInsert
from smt_portal.request_writes import request_write_queue

from .detectors import DETECTORS, Window
from .models import (
    REPORT_DETECTOR,
    UNRESOLVED_FLAG_STATUSES,
    CommissionDirective,
    CustomerReport,
    DetectorRun,
    DetectorSetting,
    DirectiveAction,
    FlagAction,
    FlagActionKind,
    FlagStatus,
    MonitoringSettings,
    PremiseAuthenticationAttempt,
    RedFlag,
    RedFlagKind,
    ReportCategory,
    ReportOutcome,
    Severity,
)

logger = logging.getLogger(__name__)


class FlagTransitionError(Exception):
    """A decision the flag's current status does not allow; ``str()`` is for people."""


class DirectiveNotReady(Exception):
    """A directive without its notice and procedure dates, or carried out already."""


# --- Detector settings and runs -----------------------------------------------------


def detector_settings_ensure():
    """A settings row with the defaults for every detector that has none; returns how
    many were created. Existing rows (staff's values) are never touched."""
    existing = dict(DetectorSetting.objects.values_list("name", "thresholds"))
    missing = [
        DetectorSetting(name=name, window=detector.window, thresholds=dict(detector.thresholds))
        for name, detector in DETECTORS.items()
        if name not in existing
    ]
    DetectorSetting.objects.bulk_create(missing, ignore_conflicts=True)
    _thresholds_complete(existing)
    return len(missing)


def _thresholds_complete(existing):
    """A threshold a detector gained since its row was seeded gets its default;
    the values staff set stay as they are."""
    for name, thresholds in existing.items():
        detector = DETECTORS.get(name)
        if detector is None or not isinstance(thresholds, dict):
            continue
        if set(detector.thresholds) - set(thresholds):
            DetectorSetting.objects.filter(name=name).update(
                thresholds={**detector.thresholds, **thresholds}
            )


@dataclass(frozen=True)
class RunCounts:
    findings: int = 0
    opened: int = 0


def detectors_run(*, now):
    """Run each enabled detector over the window containing ``now`` and the one
    before it (rows written late, or a missed run, are still counted); raise
    or refresh flags. Returns ``{detector name: {"findings", "opened"}}``, plus
    ``"error"`` (the exception's class) for a detector that failed.

    Each detector runs on its own, in its own transaction (a savepoint inside
    an outer one): one that raises — a bad value in the data, a bug, a
    timeout — is rolled back, logged and recorded in ``DetectorRun``, and the
    others still run. One detector's failure never blinds the rest."""
    detector_settings_ensure()
    results = {}
    for setting in DetectorSetting.objects.filter(enabled=True).order_by("name"):
        detector = DETECTORS.get(setting.name)
        if detector is None:
            continue  # a row left behind by a detector since removed
        results[setting.name] = _detector_run_alone(detector, setting, now)
    return results


def _detector_run_alone(detector, setting, now):
    started = time.monotonic()
    try:
        with transaction.atomic():
            counts = _detector_run(detector, setting, now)
    except Exception as exc:  # any failure of one detector; the sweep goes on
        logger.exception("Detector %s failed; the other detectors still run", detector.name)
        elapsed = timedelta(seconds=time.monotonic() - started)
        detector_run_record(name=detector.name, now=now, elapsed=elapsed, error=exc)
        return {**RunCounts().__dict__, "error": exc.__class__.__name__}
    elapsed = timedelta(seconds=time.monotonic() - started)
    detector_run_record(name=detector.name, now=now, elapsed=elapsed, counts=counts)
    return counts.__dict__


def detector_run_record(*, name, now, elapsed, counts=None, error=None):
    """Store the outcome of one detector's run (its row in ``DetectorRun``)."""
    values = {"started_at": now, "finished_at": now + elapsed, "ok": error is None}
    if error is None:
        values |= {"error_class": "", "error_message": "", "findings": counts.findings,
                   "flags_opened": counts.opened, "last_ok_at": now}  # fmt: skip
    else:
        kind = f"{type(error).__module__}.{type(error).__qualname__}"
        values |= {"error_class": kind[:200], "error_message": str(error)[:2000],
                   "findings": 0, "flags_opened": 0}  # fmt: skip
    in_a_row = 0 if error is None else F("failures_in_a_row") + 1
    if not DetectorRun.objects.filter(detector=name).update(**values, failures_in_a_row=in_a_row):
        DetectorRun.objects.get_or_create(
            detector=name, defaults={**values, "failures_in_a_row": int(error is not None)}
        )


def _detector_run(detector, setting, now):
    current = Window.containing(now, setting.window)
    # Defaults fill a threshold the row lacks (a detector that gained one).
    thresholds = {**detector.thresholds, **setting.thresholds}
    findings = opened = 0
    for window in (current.previous(), current):
        for finding in detector.find(window, thresholds):
            _, created = flag_raise(
                detector=detector, window=window, finding=finding,
                thresholds=thresholds, now=now,
            )  # fmt: skip
            findings += 1
            opened += created
    return RunCounts(findings, opened)


def flag_raise(*, detector, window, finding, thresholds, now):
    """Open the flag of this CSP, detector and window, or refresh its evidence.

    Returns ``(flag, created)``. A flag staff already decided keeps its
    decision and its evidence: re-runs never reopen it.
    """
    evidence = _plain(
        {
            "figures": finding.figures,
            "thresholds": thresholds,
            "samples": finding.samples,
            "links": finding.links,
        }
    )
    key = {"csp_id": finding.csp_id, "detector": detector.name, "window_start": window.start}
    refreshed = RedFlag.objects.filter(
        **key, report__isnull=True, status__in=UNRESOLVED_FLAG_STATUSES
    ).update(summary=finding.summary[:300], evidence=evidence, last_seen_at=now)
    if refreshed:
        return RedFlag.objects.get(**key, report__isnull=True), False
    try:
        with transaction.atomic():
            flag = RedFlag.objects.create(
                **key, window_end=window.end, kind=detector.kind, severity=detector.severity,
                summary=finding.summary[:300], evidence=evidence, created_at=now,
                last_seen_at=now,
            )  # fmt: skip
    except IntegrityError:
        # Decided already, or a concurrent run created it a moment ago.
        return RedFlag.objects.get(**key, report__isnull=True), False
    return flag, True


def _plain(evidence):
    # As the database will return it: datetimes as ISO text, IPs as text.
    return json.loads(json.dumps(evidence, cls=DjangoJSONEncoder))


# --- Customer reports (R17) ------------------------------------------------------------------

_KIND_FOR_CATEGORY = {
    ReportCategory.SELLING_SHARING: (RedFlagKind.SHARING, Severity.HIGH),
    ReportCategory.ALTERING: (RedFlagKind.ALTERING, Severity.HIGH),
    ReportCategory.UNWANTED_CONTACT: (RedFlagKind.REPORT, Severity.MEDIUM),
    ReportCategory.OTHER: (RedFlagKind.REPORT, Severity.LOW),
}


# Reports about one CSP, of one kind, from one source (an IPv4 address or an
# IPv6 /64, which one client controls whole) collapse into one unresolved flag
# for a day from its first report: rotating addresses opens no second flag.
REPORT_COLLAPSE_WINDOW = timedelta(hours=24)
REPORT_SAMPLES = 50


def report_submit(*, csp, category, description, now, contact_email="", esi_id="",
                  language="en", ip=None, user_agent=""):  # fmt: skip
    """Store a report about ``csp`` and open a flag for review, or add the report to
    the unresolved flag its source already opened (``REPORT_COLLAPSE_WINDOW``);
    returns the report."""
    kind, severity = _KIND_FOR_CATEGORY[category]
    source = ip_source(ip) if ip else ""
    with transaction.atomic():
        report = CustomerReport.objects.create(
            csp=csp, category=category, description=description, contact_email=contact_email,
            esi_id=esi_id, language=language, ip=ip, user_agent=user_agent[:500],
            created_at=now,
        )  # fmt: skip
        flag = _report_flag_of_source(csp=csp, kind=kind, source=source, now=now)
        if flag is None:
            RedFlag.objects.create(
                csp=csp, detector=REPORT_DETECTOR, kind=kind, severity=severity,
                summary=f"Customer report: {ReportCategory(category).label.lower()}",
                window_start=now, window_end=now, report=report, created_at=now,
                last_seen_at=now, evidence=_plain(_report_evidence(report, source)),
            )  # fmt: skip
        else:
            _report_flag_add(flag, report=report, severity=severity, now=now)
    return report


def _report_flag_of_source(*, csp, kind, source, now):
    """The unresolved report flag this source opened about ``csp`` within the window,
    locked; two reports racing from one source wait for each other, so they do not
    both open one (an advisory lock on PostgreSQL; SQLite has one writer anyway)."""
    if not source:
        return None
    if connection.vendor == "postgresql":
        lock_key = zlib.crc32(f"report:{csp.pk}:{kind}:{source}".encode())
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [lock_key])
    return (
        RedFlag.objects.select_for_update()
        .filter(csp=csp, detector=REPORT_DETECTOR, kind=kind,
                status__in=UNRESOLVED_FLAG_STATUSES,
                window_start__gte=now - REPORT_COLLAPSE_WINDOW,
                evidence__figures__source=source)
        .order_by("-pk")
        .first()
    )  # fmt: skip


def _report_evidence(report, source):
    return {
        "figures": {"category": report.category, "esi_id": report.esi_id,
                    "has_contact_email": bool(report.contact_email), "source": source,
                    "reports": 1, "report_ids": [report.pk]},
        "samples": [_report_sample(report)],
        "links": [_reports_link([report.pk])],
    }  # fmt: skip


def _report_sample(report):
    return {"id": report.pk, "created_at": report.created_at, "category": report.category,
            "esi_id": report.esi_id, "ip": report.ip}  # fmt: skip


def _reports_link(report_ids):
    url = reverse("admin:monitoring_customerreport_changelist")
    ids = ",".join(str(pk) for pk in report_ids)
    return {"label": "Reports behind this flag", "url": f"{url}?{urlencode({'id__in': ids})}"}


def _report_flag_add(flag, *, report, severity, now):
    """Add ``report`` to its source's flag: counted, listed, the higher severity kept."""
    figures = flag.evidence.setdefault("figures", {})
    figures["report_ids"] = [*figures.get("report_ids", [flag.report_id]), report.pk]
    figures["reports"] = len(figures["report_ids"])
    samples = flag.evidence.setdefault("samples", [])
    if len(samples) < REPORT_SAMPLES:
        samples.append(_report_sample(report))
    flag.evidence["links"] = [_reports_link(figures["report_ids"])]
    flag.evidence = _plain(flag.evidence)
    if _SEVERITY_RANK[severity] > _SEVERITY_RANK[flag.severity]:
        flag.severity = severity
    flag.summary = (f"Customer reports: {figures['reports']} from "
                    f"{figures.get('source', '')}")[:300]  # fmt: skip
    flag.window_end = flag.last_seen_at = now
    flag.save(update_fields=["evidence", "severity", "summary", "window_end", "last_seen_at"])


_SEVERITY_RANK = {Severity.LOW: 0, Severity.MEDIUM: 1, Severity.HIGH: 2}


def _flag_report_ids(flag):
    """Every report behind a report flag (read afresh: reports may have joined it)."""
    [evidence] = RedFlag.objects.filter(pk=flag.pk).values_list("evidence", flat=True)
    return (evidence or {}).get("figures", {}).get("report_ids") or [flag.report_id]


# --- Decisions on a flag --------------------------------------------------------------------

_DECISIONS = {
    # action: (allowed from, resulting status, report outcome)
    FlagActionKind.DISMISS: (
        UNRESOLVED_FLAG_STATUSES, FlagStatus.DISMISSED, ReportOutcome.NOT_UPHELD,
    ),
    FlagActionKind.ESCALATE: ((FlagStatus.OPEN,), FlagStatus.ESCALATED, None),
    FlagActionKind.UPHOLD: (UNRESOLVED_FLAG_STATUSES, FlagStatus.UPHELD, ReportOutcome.UPHELD),
    FlagActionKind.SUSPEND: (UNRESOLVED_FLAG_STATUSES, FlagStatus.ACTIONED, ReportOutcome.UPHELD),
    # A flag whose CSP was suspended may still lead to revocation.
    FlagActionKind.REVOKE: (
        (*UNRESOLVED_FLAG_STATUSES, FlagStatus.ACTIONED, FlagStatus.UPHELD),
        FlagStatus.ACTIONED,
        ReportOutcome.UPHELD,
    ),
}  # fmt: skip


def flag_decisions_allowed(flag):
    """The decisions (``FlagActionKind``) the flag's status allows now."""
    return {action for action, (allowed, _, _) in _DECISIONS.items() if flag.status in allowed}


def _flag_decide(*, flag, action, actor, reason, now):
    """Move the flag (conditional UPDATE), close its report, record who and why."""
    if not reason.strip():
        raise ValueError("a reason is required")
    allowed, to_status, outcome = _DECISIONS[action]
    resolved_at = None if to_status == FlagStatus.ESCALATED else now
    changed = RedFlag.objects.filter(pk=flag.pk, status__in=allowed).update(
        status=to_status, resolved_at=resolved_at
    )
    if not changed:
        current = RedFlag.objects.get(pk=flag.pk).get_status_display().lower()
        raise FlagTransitionError(f"Flag {flag.pk} is {current}; it cannot be {action}d now.")
    if outcome is not None and flag.report_id is not None:
        CustomerReport.objects.filter(pk__in=_flag_report_ids(flag)).update(outcome=outcome)
    flag.status, flag.resolved_at = to_status, resolved_at
    return FlagAction.objects.create(
        flag=flag, action=action, by=actor.user, reason=reason, created_at=now
    )


def flag_dismiss(*, flag, actor, reason, now):
    with transaction.atomic():
        return _flag_decide(
            flag=flag, action=FlagActionKind.DISMISS, actor=actor, reason=reason, now=now
        )


def flag_escalate(*, flag, actor, reason, now):
    with transaction.atomic():
        return _flag_decide(
            flag=flag, action=FlagActionKind.ESCALATE, actor=actor, reason=reason, now=now
        )


def flag_uphold(*, flag, actor, reason, now):
    """Staff found the flag (or report) true without suspending the CSP."""
    with transaction.atomic():
        return _flag_decide(
            flag=flag, action=FlagActionKind.UPHOLD, actor=actor, reason=reason, now=now
        )


def flag_suspend_csp(*, flag, actor, reason, now):
    """Suspend the flag's CSP (R20), close the flag and the CSP's other unresolved
    flags (``flag_siblings``), together or not at all."""
    with transaction.atomic():
        action = _flag_decide(
            flag=flag, action=FlagActionKind.SUSPEND, actor=actor, reason=reason, now=now
        )
        csp_enforce_suspend(csp=flag.csp, actor=actor, reason=_with_flag(reason, flag), now=now)
        _flag_siblings_close(flag, action=FlagActionKind.SUSPEND, actor=actor, reason=reason,
                             now=now)  # fmt: skip
    return action


def flag_revoke_csp(*, flag, actor, reason, now):
    """Revoke the flag's CSP (R20, final), close the flag and the CSP's other
    unresolved flags."""
    with transaction.atomic():
        action = _flag_decide(
            flag=flag, action=FlagActionKind.REVOKE, actor=actor, reason=reason, now=now
        )
        csp_enforce_revoke(csp=flag.csp, actor=actor, reason=_with_flag(reason, flag), now=now)
        _flag_siblings_close(flag, action=FlagActionKind.REVOKE, actor=actor, reason=reason,
                             now=now)  # fmt: skip
    return action


def flag_siblings(flag):
    """The other unresolved flags of the flag's CSP: suspending or revoking the CSP
    through ``flag`` closes them too."""
    return RedFlag.objects.filter(csp_id=flag.csp_id, status__in=UNRESOLVED_FLAG_STATUSES).exclude(
        pk=flag.pk
    )


def _flag_siblings_close(flag, *, action, actor, reason, now):
    """Close the siblings as "CSP suspended or revoked", each with its own
    ``FlagAction`` naming the deciding flag. Their customer reports keep their
    outcome: a report is upheld only when someone decides it (the public
    /providers/ page counts upheld reports)."""
    ids = list(flag_siblings(flag).select_for_update().values_list("pk", flat=True))
    if not ids:
        return []
    closed = list(
        RedFlag.objects.filter(pk__in=ids, status__in=UNRESOLVED_FLAG_STATUSES)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    RedFlag.objects.filter(pk__in=closed).update(status=FlagStatus.ACTIONED, resolved_at=now)
    FlagAction.objects.bulk_create(
        FlagAction(flag_id=pk, action=action, by=actor.user, created_at=now, decided_with=flag,
                   reason=f"Closed with flag {flag.pk}: {reason}")
        for pk in closed
    )  # fmt: skip
    return closed


def report_flag(report):
    """The red flag a customer report is decided through: the one it opened, or
    the one from the same source it joined (``_report_flag_add``)."""
    own = RedFlag.objects.filter(report=report).first()
    if own is not None:
        return own
    joined = RedFlag.objects.filter(
        csp_id=report.csp_id, detector=REPORT_DETECTOR,
        window_start__lte=report.created_at, window_end__gte=report.created_at,
    ).order_by("pk")  # fmt: skip
    for flag in joined:
        if report.pk in (flag.evidence.get("figures", {}).get("report_ids") or []):
            return flag
    return None


def report_decide(*, report, uphold, actor, reason, now):
    """Uphold or dismiss a customer report from its own page: the same decision
    as upholding or dismissing its flag (``flag_uphold`` / ``flag_dismiss``),
    which decides every report on that flag. Raises ``FlagTransitionError``
    when the flag is decided already (or the report has none)."""
    flag = report_flag(report)
    if flag is None:
        raise FlagTransitionError(f"Report {report.pk} has no red flag to decide.")
    service = flag_uphold if uphold else flag_dismiss
    return service(flag=flag, actor=actor, reason=reason, now=now)


def _with_flag(reason, flag):
    return f"{reason} (red flag {flag.pk}: {flag.summary})"


# --- Enforcement (R20, R21) -----------------------------------------------------------------


def csp_enforce_suspend(*, csp, actor, reason, now):
    """Suspend: from this moment the API answers 403 ``csp_not_active``, pending
    links cannot be opted into and no data flows (all read the CSP's status).
    The notice to the CSP's notice address is queued by the status-change
    receiver, in this transaction."""
    return csp_suspend(csp=csp, now=now, reason=reason, actor=actor)


def csp_enforce_reinstate(*, csp, actor, reason, now):
    """Back to active: agreements still within their term flow again (glossary)."""
    return csp_reinstate(csp=csp, now=now, reason=reason, actor=actor)


def csp_enforce_revoke(*, csp, actor, reason, now):
    """Revoke (final): every pending and active agreement becomes ``revoked``
    with its record, customers with active agreements are told, API keys are
    revoked. No notice goes to the CSP (R21). ``actor`` acting for the
    Commission makes the agreements ``ended_by`` the Commission.

    The status change locks the CSP row first, so a request in flight (which
    holds a shared lock on it) finishes before, and none starts beside it.
    """
    return csp_revoke(csp=csp, now=now, reason=reason, actor=actor)


# --- Commission directives (R22) ---------------------------------------------------------------


def directive_carry_out(*, directive, actor, now):
    """Suspend or terminate the directive's CSP, once notice and procedure are recorded."""
    with transaction.atomic():
        locked = CommissionDirective.objects.select_for_update().get(pk=directive.pk)
        if not locked.ready_to_carry_out:
            raise DirectiveNotReady(_not_ready_reason(locked))
        reason = (
            f"Commission directive {locked.reference} relayed by "
            f"{locked.get_relaying_tdu_display()} (received {locked.received_on:%Y-%m-%d}, "
            f"notice {locked.notice_given_on:%Y-%m-%d}, procedure concluded "
            f"{locked.procedure_concluded_on:%Y-%m-%d})"
        )
        if locked.action == DirectiveAction.SUSPEND:
            csp_enforce_suspend(csp=locked.csp, actor=actor, reason=reason, now=now)
        else:
            commission = Actor.commission(
                f"{locked.reference} (entered by {actor.label})", entered_by=actor.user
            )
            csp_enforce_revoke(csp=locked.csp, actor=commission, reason=reason, now=now)
        # Read by staff: in Central time (CST/CDT), like every time they read.
        outcome = (
            f"{locked.get_action_display()} carried out "
            f"{timezone.localtime(now):%Y-%m-%d %H:%M %Z}."
        )
        CommissionDirective.objects.filter(pk=locked.pk).update(
            carried_out_at=now, carried_out_by=actor.user, outcome=outcome
        )
    directive.carried_out_at, directive.carried_out_by, directive.outcome = (
        now,
        actor.user,
        outcome,
    )
    return directive


def _not_ready_reason(directive):
    if directive.carried_out_at is not None:
        return f"Directive {directive.reference} was carried out already."
    return (
        f"Directive {directive.reference} can be carried out only once the date notice "
        "was given and the date the procedure concluded are recorded."
    )


# --- Spam cooldown --------------------------------------------------------------------------------


def spam_cooldown_guard(*, csp, premises, now):
    """A request guard (``affirmations.services.request_guards_subscribe``): refuse
    a request for premises whose earlier request by this CSP was reported as spam."""
    _spam_cooldown_refuse(
        spam_cooldown_blocks(csp=csp, premise_ids=[p.pk for p in premises], now=now),
        premises=premises,
    )


def _spam_cooldown_lock_fragment(*, csp, premises, now):
    # The guard's check as a column of the provider's lock statement
    # (PostgreSQL): the blocked premises' ids as an array, no round trip of its own.
    sql, params = _spam_cooldown_sql(csp=csp, premise_ids=[p.pk for p in premises], now=now)
    return f"ARRAY({sql})", params


def _spam_cooldown_refuse(blocked, *, premises):
    blocked = set(blocked)
    if blocked:
        raise CooldownActive(sorted(p.esi_id for p in premises if p.pk in blocked))


spam_cooldown_guard.lock_fragment = _spam_cooldown_lock_fragment
spam_cooldown_guard.lock_refuse = _spam_cooldown_refuse


def spam_cooldown_blocks(*, csp, premise_ids, now):
    """The premises (ids) this CSP may not ask for yet: a request of the CSP
    for them was reported as spam within the staff-set cooldown."""
    if connection.vendor == "postgresql" and premise_ids:
        return _spam_cooldown_blocks_one_statement(csp=csp, premise_ids=premise_ids, now=now)
    days = MonitoringSettings.current().spam_cooldown_days
    if not days or not premise_ids:
        return []
    return sorted(
        set(
            AgreementPremise.objects.filter(
                Q(agreement__decided_at__gte=now - timedelta(days=days)),
                csp=csp,
                premise_id__in=list(premise_ids),
                agreement__status=AgreementStatus.REPORTED_SPAM,
            ).values_list("premise_id", flat=True)
        )
    )


def _spam_cooldown_blocks_one_statement(*, csp, premise_ids, now):
    with connection.cursor() as cursor:
        cursor.execute(*_spam_cooldown_sql(csp=csp, premise_ids=premise_ids, now=now))
        return [row[0] for row in cursor.fetchall()]


def _spam_cooldown_sql(*, csp, premise_ids, now):
    # The staff-set cooldown is read in the same statement (a request guard runs
    # on every agreement request: one round trip, not two). No settings row yet
    # counts as the field's default; 0 days blocks nothing; a day is 24 hours,
    # as ``timedelta(days=...)`` is.
    default = MonitoringSettings._meta.get_field("spam_cooldown_days").default
    opened = AgreementPremise._meta.db_table
    agreements = AgreementPremise._meta.get_field("agreement").related_model._meta.db_table
    sql = (
        f"SELECT DISTINCT o.premise_id FROM (SELECT COALESCE((SELECT m.spam_cooldown_days"  # noqa: S608
        f" FROM {MonitoringSettings._meta.db_table} m WHERE m.id = 1), %s) AS days) s"
        f" JOIN {agreements} a ON s.days > 0 AND a.status = %s"
        " AND a.decided_at >= %s - s.days * interval '24 hours'"
        f" JOIN {opened} o ON o.agreement_id = a.id AND o.csp_id = %s"
        " AND o.premise_id = ANY(%s)"
        " ORDER BY 1"
    )
    return sql, [default, AgreementStatus.REPORTED_SPAM, now, csp.pk, list(premise_ids)]


# --- Premise authentication attempts (R18) --------------------------------------------------


_ATTEMPT_INSERT = PreparedInsert(PremiseAuthenticationAttempt)


def authentication_attempts_record(*, attempts, csp, ip, now):
    """Subscriber of ``premises.services``: one row per premise checked, in the
    caller's transaction. The API's single-premise check queues its one row
    for the request's final write (``smt_portal.request_writes``): written
    with the request log, in one round trip, before the answer leaves."""
    rows = [_attempt_values(attempt, csp=csp, ip=ip, now=now) for attempt in attempts]
    if not rows:
        return
    if len(rows) > 1:
        PremiseAuthenticationAttempt.objects.bulk_create(
            [PremiseAuthenticationAttempt(**row) for row in rows]
        )
    elif not request_write_queue(_ATTEMPT_INSERT, rows[0]):
        # One plain INSERT (bulk_create would wrap it in BEGIN/COMMIT).
        _ATTEMPT_INSERT.execute(rows[0])


def _attempt_values(attempt, *, csp, ip, now):
    return {
        "created_at": now,
        "csp_id": csp.pk if csp is not None else None,
        "ip": ip,
        "esi_id": attempt.esi_id,
        "meter_number": attempt.meter_number,
        "rep_certificate_number": attempt.rep_certificate_number,
        "authenticated": not attempt.failure_reason,
        "failure_reason": attempt.failure_reason,
        "premise_id": attempt.premise.pk if attempt.premise is not None else None,
    }
