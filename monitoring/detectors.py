"""The detectors: each one small unit that counts in the database and reports findings.

A detector has a name, the criterion or red flag it serves, default
thresholds and a default window (staff change both in the admin, stored in
``DetectorSetting``), and a ``find(window, thresholds)`` function. ``find``
runs a few GROUP BY queries over indexed tables for the rows inside the
window and returns one ``Finding`` per CSP that crosses a threshold, with
the figures, the thresholds and a few sample rows. ``services.detectors_run``
turns findings into red flags (one per CSP, detector and window).

Thresholds named ``min_*`` are met at that value: ``min_decisions_per_ip =
10`` flags 10 decisions from one address, not 9.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from django.conf import settings
from django.db import connection
from django.db.models import Count, Exists, F, OuterRef, Q, Value
from django.db.models import Window as WindowExpression
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Length, Lower, RowNumber, StrIndex, Substr
from django.urls import reverse
from django.utils.http import urlencode

from affirmations.masking import mask_email
from affirmations.models import Agreement, Record, RecordEvent
from affirmations.rules import access_granted_at_sql
from csp_registry.models import ApiRequestLog
from data_access.models import DataAccessLog
from smt_portal.calendar import CENTRAL

from .models import PremiseAuthenticationAttempt, RedFlagKind, Severity
from .sql import IpInRanges, IpNetwork

SAMPLE_SIZE = 5
# Windows are Central days (staff read every time in Central): day and week
# windows start at Central midnight, counted in calendar days from this Monday
# so weekly windows start on Mondays; windows shorter than a day start at
# their Central day's midnight and never cross the next one.
WINDOW_EPOCH_DAY = date(2001, 1, 1)
ONE_DAY = timedelta(days=1)
# A customer's mailbox at one of these is not "the CSP's own domain", even
# when the CSP registered a contact address there.
PUBLIC_MAIL_DOMAINS = frozenset(
    {"gmail.com", "yahoo.com", "hotmail.com", "outlook.com", "aol.com", "icloud.com",
     "live.com", "msn.com", "att.net", "sbcglobal.net", "comcast.net", "protonmail.com"}
)  # fmt: skip
DECISION_EVENTS = (RecordEvent.OPTED_IN, RecordEvent.OPTED_OUT, RecordEvent.REPORTED_SPAM)


def central_midnight(day):
    """The instant (UTC) a Central calendar day begins; midnight is never in
    a DST gap or overlap in America/Chicago (changes happen at 02:00)."""
    return datetime.combine(day, time(), tzinfo=CENTRAL).astimezone(UTC)


WINDOW_EPOCH = central_midnight(WINDOW_EPOCH_DAY)


@dataclass(frozen=True)
class Window:
    """``[start, end)``, in UTC. ``length`` is the setting it was aligned
    for; a day is a Central calendar day, 23 or 25 hours long at DST changes."""

    start: datetime
    end: datetime
    length: timedelta | None = field(default=None, compare=False)

    @classmethod
    def containing(cls, moment, length):
        """The aligned window of ``length`` that contains ``moment``:

        - whole days (1 day, 7 days): from Central midnight to Central midnight,
          the days counted from ``WINDOW_EPOCH_DAY``;
        - less than a day: steps of ``length`` from the Central day's midnight,
          the last one cut at the next midnight;
        - anything else: steps of ``length`` from ``WINDOW_EPOCH``.
        """
        day = moment.astimezone(CENTRAL).date()
        if length >= ONE_DAY and length % ONE_DAY == timedelta(0):
            days = length // ONE_DAY
            first = WINDOW_EPOCH_DAY + ((day - WINDOW_EPOCH_DAY).days // days) * timedelta(days)
            return cls(central_midnight(first), central_midnight(first + length), length)
        if length < ONE_DAY:
            midnight, next_midnight = central_midnight(day), central_midnight(day + ONE_DAY)
            start = midnight + ((moment - midnight) // length) * length
            return cls(start, min(start + length, next_midnight), length)
        start = WINDOW_EPOCH + ((moment - WINDOW_EPOCH) // length) * length
        return cls(start, start + length, length)

    def previous(self):
        """The aligned window just before this one."""
        if self.length is None:
            length = self.end - self.start
            return Window(self.start - length, self.start)
        return Window.containing(self.start - timedelta(microseconds=1), self.length)

    def bounds(self, column="created_at"):
        return {f"{column}__gte": self.start, f"{column}__lt": self.end}


@dataclass
class Finding:
    csp_id: int
    summary: str
    figures: dict
    samples: list = field(default_factory=list)
    links: list = field(default_factory=list)


@dataclass(frozen=True)
class Detector:
    name: str
    label: str
    serves: str
    kind: str
    severity: str
    window: timedelta
    thresholds: dict
    find: Callable
    # The admin model of the sample rows in the evidence ("app_label.model").
    sample_model: str = ""

    def threshold_errors(self, values):
        if not isinstance(values, dict):
            return ["Thresholds are a JSON object of names and numbers."]
        errors = [f"Unknown threshold {name!r}." for name in values if name not in self.thresholds]
        errors += [f"Missing threshold {name!r}." for name in self.thresholds if name not in values]
        errors += [
            f"{name} must be a number of at least 0."
            for name, value in values.items()
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0
        ]
        return errors


DETECTORS: dict[str, Detector] = {}


def detector(**attributes):
    def register(find):
        DETECTORS[attributes["name"]] = Detector(find=find, **attributes)
        return find

    return register


def _records():
    """Records of live agreements only: the sandbox's (scripted answers, test
    requests) are never counted."""
    return Record.objects.exclude(agreement__sandbox=True)


# --- Links from the evidence to the rows behind it --------------------------------------


def admin_link(label, model_label, window, *, csp_id, time_field="created_at", **filters):
    url = reverse(f"admin:{model_label.replace('.', '_')}_changelist")
    query = {
        "csp__id__exact": csp_id,
        f"{time_field}__gte": window.start.isoformat(),
        f"{time_field}__lt": window.end.isoformat(),
        **filters,
    }
    return {"label": label, "url": f"{url}?{urlencode(query)}"}


def _records_link(window, csp_id, event=None):
    filters = {"event__exact": event} if event else {}
    return admin_link("Records in the window", "affirmations.record", window,
                      csp_id=csp_id, **filters)  # fmt: skip


def _record_samples(queryset):
    return list(
        queryset.order_by("pk").values("id", "agreement_id", "event", "created_at", "ip")[
            :SAMPLE_SIZE
        ]
    )


# Premises, not agreements: one request may list up to 200 premises. Counted
# through the record's agreement; large commercial premises are left out where
# one customer legitimately holds many (a chain of stores).
_PREMISES = Count("agreement__premises__premise_id", distinct=True)
_RESIDENTIAL_PREMISES = Count(
    "agreement__premises__premise_id",
    distinct=True,
    filter=Q(agreement__premises__large_commercial=False),
)


def _decisions(window, events=(RecordEvent.OPTED_IN,)):
    # Served by the record's (event, created_at) index.
    return _records().filter(event__in=events, csp__isnull=False, **window.bounds())


# --- 1. Mass affirmation from one place (R15, flag a) --------------------------------------


@detector(
    name="mass_affirmation_one_source",
    sample_model="affirmations.record",
    label="Mass affirmation from one place",
    serves="R15; red flag (a)",
    kind=RedFlagKind.AFFIRMATION,
    severity=Severity.HIGH,
    window=timedelta(hours=24),
    thresholds={
        "min_decisions_per_ip": 10,
        "min_decisions_per_network": 25,
        "min_premises_per_ip": 30,
        "min_premises_per_network": 75,
    },
)
def find_mass_affirmation(window, thresholds):
    """Opt-ins for different agreements of one CSP from one address or one /24 (/48).

    Counted per agreement (one customer affirms all the premises of an
    agreement with one decision) and per premise: three opt-ins that enrol
    90 homes from one address are as suspicious as 30 opt-ins. Premises
    counted are the residential ones (not large commercial): a chain of
    stores affirming its sites from its head office is one customer. Opt-outs
    and spam reports enrol nobody, so only opt-ins count.
    """
    decisions = _decisions(window).filter(ip__isnull=False)
    by_ip = (
        decisions.values("csp_id", "ip")
        .annotate(decisions=Count("agreement_id", distinct=True), premises=_RESIDENTIAL_PREMISES)
        .filter(
            Q(decisions__gte=thresholds["min_decisions_per_ip"])
            | Q(premises__gte=thresholds["min_premises_per_ip"])
        )
    )
    by_network = (
        decisions.annotate(network=IpNetwork("ip"))
        .values("csp_id", "network")
        .annotate(decisions=Count("agreement_id", distinct=True), premises=_RESIDENTIAL_PREMISES)
        .filter(
            Q(decisions__gte=thresholds["min_decisions_per_network"])
            | Q(premises__gte=thresholds["min_premises_per_network"])
        )
    )
    sources = {}
    for row in by_ip:
        found = {"ip": row["ip"], "decisions": row["decisions"], "premises": row["premises"]}
        sources.setdefault(row["csp_id"], []).append(found)
    for row in by_network:
        sources.setdefault(row["csp_id"], []).append(
            {"network": row["network"], "decisions": row["decisions"], "premises": row["premises"]}
        )
    samples = _mass_affirmation_samples(decisions, sources)
    return [
        _mass_affirmation_finding(window, csp_id, found, samples.get(csp_id, []))
        for csp_id, found in sources.items()
    ]


def _top_source(found):
    return max(found, key=lambda source: (source["decisions"], source["premises"]))


def _mass_affirmation_samples(decisions, sources):
    """A few opt-ins from each CSP's busiest address or network, all CSPs in one query."""
    if not sources:
        return {}
    from_top_source = Q()
    for csp_id, found in sources.items():
        top = _top_source(found)
        place = Q(ip=top["ip"]) if "ip" in top else Q(network=top["network"])
        from_top_source |= Q(csp_id=csp_id) & place
    ranked = (
        decisions.annotate(network=IpNetwork("ip"))
        .filter(from_top_source)
        .annotate(n=WindowExpression(RowNumber(), partition_by=F("csp_id"), order_by=F("pk").asc()))
        .filter(n__lte=SAMPLE_SIZE)
        .order_by("pk")
        .values("id", "agreement_id", "event", "created_at", "ip", "csp_id")
    )
    samples = {}
    for row in ranked:
        samples.setdefault(row.pop("csp_id"), []).append(row)
    return samples


def _mass_affirmation_finding(window, csp_id, found, samples):
    top = _top_source(found)
    return Finding(
        csp_id=csp_id,
        summary=f"{top['decisions']} opt-ins ({top['premises']} residential premises) "
        f"from {top.get('ip') or top.get('network')}",
        figures={"sources": found},
        samples=samples,
        links=[_records_link(window, csp_id, RecordEvent.OPTED_IN)],
    )


# --- 2. The CSP affirming for the customer (flag a) -------------------------------------------


@detector(
    name="csp_affirms_for_customer",
    sample_model="affirmations.record",
    label="The CSP affirming for the customer",
    serves="Red flag (a)",
    kind=RedFlagKind.AFFIRMATION,
    severity=Severity.HIGH,
    window=timedelta(hours=24),
    thresholds={"min_decisions": 1, "api_lookback_days": 30},
)
def find_csp_affirming(window, thresholds):
    """Opt-ins from the CSP's registered ranges, or from an address its API calls came from."""
    # Probed by the log's (ip, created_at) index. The CSP is compared as
    # ``csp_id + 0`` on purpose: otherwise PostgreSQL also reads the CSP's
    # foreign-key index (every call the CSP made) and ANDs the bitmaps, which
    # costs milliseconds per decision instead of microseconds.
    api_calls = ApiRequestLog.objects.annotate(caller=F("csp_id") + 0).filter(
        caller=OuterRef("csp_id"),
        ip=OuterRef("ip"),
        sandbox=False,
        created_at__gte=window.start - timedelta(days=thresholds["api_lookback_days"]),
        created_at__lt=window.end,
    )
    suspicious = (
        _decisions(window)
        .filter(ip__isnull=False)
        .annotate(
            from_api_address=Exists(api_calls),
            from_registered_range=IpInRanges("ip", F("csp__registered_ip_ranges")),
        )
        .filter(Q(from_api_address=True) | Q(from_registered_range=True))
    )
    rows = (
        suspicious.values("csp_id")
        .annotate(
            decisions=Count("agreement_id", distinct=True),
            premises=_PREMISES,
            addresses=Count("ip", distinct=True),
            from_api=Count("agreement_id", distinct=True, filter=Q(from_api_address=True)),
            from_ranges=Count("agreement_id", distinct=True, filter=Q(from_registered_range=True)),
        )
        .filter(decisions__gte=thresholds["min_decisions"])
    )
    return [
        Finding(
            csp_id=row["csp_id"],
            summary=f"{row['decisions']} opt-ins ({row['premises']} premises) from the CSP's "
            "own addresses",
            figures={
                key: row[key]
                for key in ("decisions", "premises", "addresses", "from_api", "from_ranges")
            },  # fmt: skip
            samples=_record_samples(suspicious.filter(csp_id=row["csp_id"])),
            links=[_records_link(window, row["csp_id"], RecordEvent.OPTED_IN)],
        )
        for row in rows
    ]


# --- 3. Addresses that are not the customer's (flag a) -----------------------------------------


def _domain(expression):
    """The part of an email address after the "@", lower-cased, in SQL."""
    return Lower(Substr(expression, StrIndex(expression, Value("@")) + 1))


@detector(
    name="customer_email_not_customers",
    label="Addresses that are not the customer's",
    serves="Red flag (a)",
    kind=RedFlagKind.AFFIRMATION,
    severity=Severity.MEDIUM,
    window=timedelta(days=7),
    thresholds={
        "min_requests_per_email": 5,
        "min_residential_premises_per_email": 20,
        "min_own_domain_requests": 1,
    },
)
def find_foreign_emails(window, thresholds):
    """One email used for many requests or many premises (different customers'
    premises), or emails at the CSP's own domain, for requests and renewals
    alike. Requests are counted per request (one customer lists all their
    premises in one) and per residential premise (a handful of requests can
    enrol a street)."""
    requests = _records().filter(
        event=RecordEvent.REQUEST_CREATED, csp__isnull=False, **window.bounds()
    )
    shared = (
        requests.annotate(email=Lower("agreement__customer_email"))
        .values("csp_id", "email")
        .annotate(
            requests=Count("agreement_id", distinct=True),
            premises=_PREMISES,
            residential_premises=_RESIDENTIAL_PREMISES,
        )
        .filter(
            Q(requests__gte=thresholds["min_requests_per_email"])
            | Q(residential_premises__gte=thresholds["min_residential_premises_per_email"])
        )
    )
    findings = {}
    for row in shared:
        finding = _email_finding(findings, window, row["csp_id"])
        finding.figures["shared_emails"].append(
            {key: row[key] for key in ("email", "requests", "premises", "residential_premises")}
        )
    for row in _own_domain_requests(requests, thresholds):
        finding = _email_finding(findings, window, row["csp_id"])
        finding.figures["own_domain"].append(
            {"domain": row["domain"], "requests": row["requests"], "premises": row["premises"]}
        )
    for row in _own_domain_renewals(window, thresholds):
        finding = _email_finding(findings, window, row["csp_id"])
        finding.figures["own_domain_renewals"].append(
            {"domain": row["domain"], "renewals": row["renewals"]}
        )
    for finding in findings.values():
        finding.summary = _email_summary(finding.figures)
    return list(findings.values())


def _own_domain_requests(requests, thresholds):
    email = "agreement__customer_email"
    return (
        requests.annotate(
            domain=_domain(email),
            contact_domain=_domain("csp__contact_email"),
            notice_domain=_domain("csp__notice_email"),
        )
        .filter(Q(domain=F("contact_domain")) | Q(domain=F("notice_domain")))
        .exclude(domain__in=PUBLIC_MAIL_DOMAINS)
        .values("csp_id", "domain")
        .annotate(requests=Count("agreement_id", distinct=True), premises=_PREMISES)
        .filter(requests__gte=thresholds["min_own_domain_requests"])
    )


def _own_domain_renewals(window, thresholds):
    """Renewal requests sent to an address at the CSP's own domain: the CSP
    renewing through its own mailbox. The record keeps the address masked
    (``j***@domain``), which is enough: only the domain is compared."""
    renewals = _records().filter(
        event=RecordEvent.RENEWAL_REQUESTED, csp__isnull=False, **window.bounds()
    )
    return (
        renewals.annotate(
            domain=_domain(KeyTextTransform("customer_email", "details")),
            contact_domain=_domain("csp__contact_email"),
            notice_domain=_domain("csp__notice_email"),
        )
        .filter(Q(domain=F("contact_domain")) | Q(domain=F("notice_domain")))
        .exclude(domain__in=PUBLIC_MAIL_DOMAINS)
        .values("csp_id", "domain")
        .annotate(renewals=Count("id"))
        .filter(renewals__gte=thresholds["min_own_domain_requests"])
    )


def _email_finding(findings, window, csp_id):
    if csp_id not in findings:
        findings[csp_id] = Finding(
            csp_id=csp_id,
            summary="",
            figures={"shared_emails": [], "own_domain": [], "own_domain_renewals": []},
            links=[_records_link(window, csp_id, RecordEvent.REQUEST_CREATED)],
        )
    return findings[csp_id]


def _email_summary(figures):
    parts = []
    if figures["shared_emails"]:
        top = max(figures["shared_emails"], key=lambda row: (row["requests"], row["premises"]))
        parts.append(f"one email in {top['requests']} requests ({top['premises']} premises)")
    if figures["own_domain"]:
        total = sum(row["requests"] for row in figures["own_domain"])
        parts.append(f"{total} requests to the CSP's own domain")
    if figures["own_domain_renewals"]:
        total = sum(row["renewals"] for row in figures["own_domain_renewals"])
        parts.append(f"{total} renewals sent to the CSP's own domain")
    return "; ".join(parts)


# --- 4. Inhumanly fast decisions (flag a) ---------------------------------------------------


@detector(
    name="fast_decisions",
    sample_model="affirmations.record",
    label="Inhumanly fast decisions",
    serves="Red flag (a)",
    kind=RedFlagKind.AFFIRMATION,
    severity=Severity.MEDIUM,
    window=timedelta(hours=24),
    thresholds={"max_seconds": 30, "min_fast_opt_ins": 5},
)
def find_fast_decisions(window, thresholds):
    """Opt-ins within ``max_seconds`` of the email (or its reminder) being sent."""
    quick = timedelta(seconds=thresholds["max_seconds"])
    after_email = Q(created_at__lt=F("agreement__affirmation_sent_at") + quick)
    after_reminder = Q(
        agreement__reminder_sent_at__isnull=False,
        created_at__gte=F("agreement__reminder_sent_at"),
        created_at__lt=F("agreement__reminder_sent_at") + quick,
    )
    fast = _decisions(window).filter(after_email | after_reminder)
    rows = (
        fast.values("csp_id")
        .annotate(fast_opt_ins=Count("agreement_id", distinct=True), premises=_PREMISES)
        .filter(fast_opt_ins__gte=thresholds["min_fast_opt_ins"])
    )
    return [
        Finding(
            csp_id=row["csp_id"],
            summary=f"{row['fast_opt_ins']} opt-ins ({row['premises']} premises) within "
            f"{thresholds['max_seconds']} s of the email",
            figures={"fast_opt_ins": row["fast_opt_ins"], "premises": row["premises"]},
            samples=_record_samples(fast.filter(csp_id=row["csp_id"])),
            links=[_records_link(window, row["csp_id"], RecordEvent.OPTED_IN)],
        )
        for row in rows
    ]


# --- 5. Rejections (R16) ------------------------------------------------------------------------

OUTCOME_EVENTS = {
    RecordEvent.OPTED_IN: "opted_in",
    RecordEvent.OPTED_OUT: "opted_out",
    RecordEvent.REPORTED_SPAM: "reported_spam",
    RecordEvent.TIMED_OUT: "timed_out",
}


def outcome_counts(window, csp_id=None):
    """Per CSP: how many requests ended each way in the window (R16), and rates."""
    records = _records().filter(event__in=OUTCOME_EVENTS, csp__isnull=False, **window.bounds())
    if csp_id is not None:
        records = records.filter(csp_id=csp_id)
    counts = {}
    for row in records.values("csp_id", "event").annotate(n=Count("id")):
        per_csp = counts.setdefault(row["csp_id"], dict.fromkeys(OUTCOME_EVENTS.values(), 0))
        per_csp[OUTCOME_EVENTS[row["event"]]] += row["n"]
    return {csp: {**figures, **_rates(figures)} for csp, figures in counts.items()}


def _rates(figures):
    total = sum(figures[name] for name in OUTCOME_EVENTS.values())
    return {
        "outcomes": total,
        **{
            f"{name}_rate": round(figures[name] / total, 4) if total else 0.0
            for name in OUTCOME_EVENTS.values()
        },
    }


@detector(
    name="rejections",
    label="Rejections",
    serves="R16",
    kind=RedFlagKind.REJECTIONS,
    severity=Severity.MEDIUM,
    window=timedelta(days=7),
    thresholds={"min_outcomes": 20, "max_spam_rate": 0.05, "max_opt_out_rate": 0.5},
)
def find_rejections(window, thresholds):
    """Time-outs, opt-outs and spam reports counted apart; flags a high spam or opt-out rate."""
    findings = []
    for csp_id, figures in outcome_counts(window).items():
        if figures["outcomes"] < thresholds["min_outcomes"]:
            continue
        reasons = []
        if figures["reported_spam_rate"] >= thresholds["max_spam_rate"]:
            reasons.append(f"spam rate {figures['reported_spam_rate']:.0%}")
        if figures["opted_out_rate"] >= thresholds["max_opt_out_rate"]:
            reasons.append(f"opt-out rate {figures['opted_out_rate']:.0%}")
        if reasons:
            findings.append(
                Finding(
                    csp_id=csp_id,
                    summary=", ".join(reasons) + f" of {figures['outcomes']} outcomes",
                    figures=figures,
                    links=[_records_link(window, csp_id)],
                )
            )
    return findings


# --- 6. Authentication attempts (R18) --------------------------------------------------------

NEIGHBOUR_DIGITS = 3  # ESI IDs equal but for the last three digits are neighbours


@detector(
    name="authentication_attempts",
    sample_model="monitoring.premiseauthenticationattempt",
    label="Authentication attempts",
    serves="R18",
    kind=RedFlagKind.AUTHENTICATION,
    severity=Severity.MEDIUM,
    window=timedelta(hours=1),
    thresholds={
        "max_attempts_per_csp": 3000,
        "max_attempts_per_ip": 1000,
        "min_attempts_for_ratio": 50,
        "max_failure_ratio": 0.3,
        "min_neighbouring_esi_ids": 20,
    },
)
def find_authentication_abuse(window, thresholds):
    """Per CSP and per IP: volume and failure ratio; and enumeration, many
    failed ESI IDs that differ only in their last digits.

    Counts premises checked, not requests: ``premises_authenticate`` writes one
    attempt row per premise, whether premise authentication or agreement
    creation (up to 200 premises a request) checked it."""
    attempts = PremiseAuthenticationAttempt.objects.filter(csp__isnull=False, **window.bounds())
    findings = {}
    for group in ("csp", "ip"):
        for row in _attempt_volumes(attempts, group, thresholds):
            finding = _attempt_finding(findings, window, row["csp_id"])
            finding.figures[f"per_{group}"].append(row)
    for row in _enumeration(attempts, thresholds):
        finding = _attempt_finding(findings, window, row["csp_id"])
        finding.figures["enumeration"].append(row)
    for finding in findings.values():
        finding.summary = _attempt_summary(finding.figures)
        finding.samples = list(
            attempts.filter(csp_id=finding.csp_id, authenticated=False)
            .order_by("pk")
            .values("id", "created_at", "ip", "esi_id", "failure_reason")[:SAMPLE_SIZE]
        )
    return list(findings.values())


def _attempt_volumes(attempts, group, thresholds):
    keys = ["csp_id"] if group == "csp" else ["csp_id", "ip"]
    volume = thresholds[f"max_attempts_per_{group}"]
    rows = (
        attempts.values(*keys)
        .annotate(attempts=Count("id"), failures=Count("id", filter=Q(authenticated=False)))
        .filter(
            Q(attempts__gte=volume)
            | Q(
                attempts__gte=thresholds["min_attempts_for_ratio"],
                failures__gte=F("attempts") * thresholds["max_failure_ratio"],
            )
        )
    )
    return [{**row, "failure_ratio": round(row["failures"] / row["attempts"], 4)} for row in rows]


def _enumeration(attempts, thresholds):
    block = Substr("esi_id", 1, Length("esi_id") - NEIGHBOUR_DIGITS)
    return list(
        attempts.filter(authenticated=False)
        .annotate(block=block)
        .values("csp_id", "block")
        .annotate(esi_ids=Count("esi_id", distinct=True))
        .filter(esi_ids__gte=thresholds["min_neighbouring_esi_ids"])
    )


def _attempt_finding(findings, window, csp_id):
    if csp_id not in findings:
        findings[csp_id] = Finding(
            csp_id=csp_id,
            summary="",
            figures={"per_csp": [], "per_ip": [], "enumeration": []},
            links=[admin_link("Attempts in the window", "monitoring.premiseauthenticationattempt",
                              window, csp_id=csp_id)],
        )  # fmt: skip
    return findings[csp_id]


def _attempt_summary(figures):
    parts = []
    for row in figures["per_csp"][:1]:
        parts.append(f"{row['attempts']} attempts, {row['failure_ratio']:.0%} failed")
    if figures["per_ip"]:
        parts.append(f"{len(figures['per_ip'])} address(es) over the limits")
    for row in figures["enumeration"][:1]:
        parts.append(f"{row['esi_ids']} neighbouring ESI IDs near {row['block']}…")
    return "; ".join(parts)


# --- 7. IP falsification (flag c) -----------------------------------------------------------


@detector(
    name="ip_falsification",
    sample_model="csp_registry.apirequestlog",
    label="IP falsification",
    serves="Red flag (c)",
    kind=RedFlagKind.IP_FALSIFICATION,
    severity=Severity.HIGH,
    window=timedelta(hours=1),
    thresholds={"min_outside_calls": 1, "min_forged_headers": 1},
)
def find_ip_falsification(window, thresholds):
    """Calls from outside the registered ranges (refused ``ip_not_registered``),
    and forwarding headers that no trusted proxy wrote (with none configured,
    any such header is the client's own invention)."""
    calls = ApiRequestLog.objects.filter(csp__isnull=False, sandbox=False, **window.bounds())
    rows = (
        calls.values("csp_id")
        .annotate(
            outside_calls=Count("id", filter=Q(error_code="ip_not_registered")),
            forged_headers=Count("id", filter=Q(forwarded_header_untrusted=True)),
        )
        .filter(
            Q(outside_calls__gte=thresholds["min_outside_calls"])
            | Q(forged_headers__gte=thresholds["min_forged_headers"])
        )
    )
    suspicious = Q(error_code="ip_not_registered") | Q(forwarded_header_untrusted=True)
    return [
        Finding(
            csp_id=row["csp_id"],
            summary=f"{row['outside_calls']} calls from outside the registered ranges, "
            f"{row['forged_headers']} with forged forwarding headers",
            figures={
                "outside_calls": row["outside_calls"],
                "forged_headers": row["forged_headers"],
                "trusted_proxy_count": settings.TRUSTED_PROXY_COUNT,
            },
            samples=_api_samples(calls.filter(suspicious, csp_id=row["csp_id"])),
            links=[
                admin_link(
                    "API requests in the window",
                    "csp_registry.apirequestlog",
                    window,
                    csp_id=row["csp_id"],
                )
            ],
        )  # fmt: skip
        for row in rows
    ]


def _api_samples(calls, limit=SAMPLE_SIZE):
    return list(
        calls.order_by("pk").values(
            "id", "created_at", "ip", "method", "path", "status_code", "error_code",
            "forwarded_header_untrusted",
        )[:limit]
    )  # fmt: skip


# --- 8. Data without authorisation (flag b) and after termination (flag d) ----------------------


# Each data read judged against the agreement its URL named, in one LEFT JOIN:
# 'd' after the customer or the CSP ended it, NULL while it was this CSP's and
# active, 'b' otherwise (unknown, another CSP's, not yet affirmed, or ended by
# staff, a time-out or the end of its term). One pass gives the figures and
# the samples: the calls with the verdict asked for are grouped per CSP and
# agreement ("pairs", small), then summed per CSP and ranked, so the samples
# are the first call about each of the CSP's first few agreements. Plain SQL
# that PostgreSQL and SQLite read alike; the innermost query (the window and
# the path's agreement id) is compiled by the ORM for the database at hand.
_DATA_FINDINGS = """
    SELECT csp_id, served, refused, agreements, first_id
    FROM (
        SELECT csp_id, first_id,
               SUM(served) OVER per_csp AS served,
               SUM(refused) OVER per_csp AS refused,
               COUNT(*) OVER per_csp AS agreements,
               ROW_NUMBER() OVER (PARTITION BY csp_id ORDER BY first_id) AS n
        FROM (
            SELECT l.csp_id, l.agreement_ref, MIN(l.id) AS first_id,
                   SUM(CASE WHEN l.status_code < 300 OR l.status_code = 304
                       THEN 1 ELSE 0 END) AS served,
                   SUM(CASE WHEN l.status_code >= 300 AND l.status_code <> 304
                       THEN 1 ELSE 0 END) AS refused
            FROM ({calls}) l
            LEFT JOIN affirmations_agreement a ON a.id = l.agreement_ref
            WHERE l.agreement_ref IS NOT NULL AND CASE
                WHEN a.id IS NULL OR a.csp_id <> l.csp_id THEN 'b'
                WHEN a.ended_at IS NOT NULL AND a.ended_at <= l.created_at
                     AND a.ended_by IN ('customer', 'csp') THEN 'd'
                WHEN {granted} THEN NULL
                ELSE 'b'
            END = %s
            GROUP BY l.csp_id, l.agreement_ref
        ) pairs
        WINDOW per_csp AS (PARTITION BY csp_id)
    ) ranked
    WHERE n <= %s AND (served >= %s OR refused >= %s)
    ORDER BY csp_id, first_id
""".replace("{granted}", access_granted_at_sql("a", "l.created_at"))


def _data_calls_sql(window):
    """The window's data reads (``data_access.DataAccessLog``: every read, served
    or refused, with the agreement id its URL named), CSPs' only.

    On PostgreSQL the subquery ends in ``OFFSET 0`` so the planner runs the
    window's index scan once rather than inlining it into the join.
    SQLite is the small-data path; no fence."""
    calls = (
        DataAccessLog.objects.filter(
            csp__isnull=False, agreement_id__isnull=False, sandbox=False, **window.bounds()
        )
        .exclude(agreement_id__in=Agreement.objects.filter(sandbox=True).values("pk"))
        .annotate(agreement_ref=F("agreement_id"))
        .order_by()
        .values("id", "csp_id", "created_at", "status_code", "agreement_ref")
    )  # fmt: skip
    sql, params = calls.query.sql_with_params()
    fence = " OFFSET 0" if connection.vendor == "postgresql" else ""
    return sql + fence, list(params)


def _data_findings(window, thresholds, verdict, what):
    calls, params = _data_calls_sql(window)
    minimums = [thresholds["min_served_requests"], thresholds["min_refused_requests"]]
    with connection.cursor() as cursor:
        cursor.execute(_DATA_FINDINGS.format(calls=calls),
                       [*params, verdict, SAMPLE_SIZE, *minimums])  # fmt: skip
        rows = cursor.fetchall()
    figures, sample_csp = {}, {}
    for csp_id, served, refused, agreements, sample_id in rows:
        # int(): PostgreSQL sums bigints as numeric, which JSON would store as text.
        figures[csp_id] = {"served": int(served), "refused": int(refused),
                           "agreements": int(agreements)}  # fmt: skip
        sample_csp[sample_id] = csp_id
    samples = _data_samples(sample_csp)
    return [
        Finding(
            csp_id=csp_id,
            summary=f"{found['served']} data responses and {found['refused']} refused data "
            f"requests {what} ({found['agreements']} agreements)",
            figures=found,
            samples=samples.get(csp_id, []),
            links=[
                admin_link(
                    "Data reads in the window", "data_access.dataaccesslog", window, csp_id=csp_id
                )  # fmt: skip
            ],
        )  # fmt: skip
        for csp_id, found in figures.items()
    ]


def _data_samples(sample_csp):
    """The sample rows of every CSP in one query, by the ids the findings chose."""
    if not sample_csp:
        return {}
    samples = {}
    reads = DataAccessLog.objects.filter(pk__in=list(sample_csp)).order_by("pk")
    for row in reads.values(
        "id", "created_at", "ip", "agreement_id", "esi_id", "kind", "start", "end",
        "status_code", "error_code", "intervals",
    ):  # fmt: skip
        samples.setdefault(sample_csp[row["id"]], []).append(row)
    return samples


@detector(
    name="data_without_authorisation",
    sample_model="data_access.dataaccesslog",
    label="Data without authorisation",
    serves="Red flag (b)",
    kind=RedFlagKind.UNAUTHORISED_DATA,
    severity=Severity.HIGH,
    window=timedelta(hours=1),
    thresholds={"min_served_requests": 1, "min_refused_requests": 10},
)
def find_data_without_authorisation(window, thresholds):
    """Data requests for an agreement that was not active for this CSP at that
    moment: another CSP's, unknown, not yet affirmed, or ended by staff or time.
    A served one should never happen (the API refuses); a stream of refused
    ones is a CSP trying."""
    return _data_findings(window, thresholds, "b", "for agreements not active")


@detector(
    name="data_after_termination",
    sample_model="data_access.dataaccesslog",
    label="Data after termination",
    serves="Red flag (d)",
    kind=RedFlagKind.AFTER_TERMINATION,
    severity=Severity.HIGH,
    window=timedelta(hours=1),
    thresholds={"min_served_requests": 1, "min_refused_requests": 10},
)
def find_data_after_termination(window, thresholds):
    """Data requests after the customer or the CSP ended the agreement."""
    return _data_findings(window, thresholds, "d", "after the agreement ended")


# --- 9. One request enrolling many homes (flag a) -------------------------------------------


@detector(
    name="many_residential_premises",
    sample_model="affirmations.agreement",
    label="Many residential premises in one request",
    serves="Red flag (a)",
    kind=RedFlagKind.AFFIRMATION,
    severity=Severity.HIGH,
    window=timedelta(hours=24),
    thresholds={"max_premises_per_residential_agreement": 10},
)
def find_many_residential_premises(window, thresholds):
    """Requests listing more than the staff-set number of residential (not
    large commercial) premises: one opt-in would enrol them all. A household
    has a home or a few rentals; a request for 200 homes is someone else's
    list. Large commercial premises are not counted (a chain of stores)."""
    limit = thresholds["max_premises_per_residential_agreement"]
    rows = list(
        _records()
        .filter(event=RecordEvent.REQUEST_CREATED, csp__isnull=False, **window.bounds())
        .values("csp_id", "agreement_id")
        .annotate(premises=_RESIDENTIAL_PREMISES)
        .filter(premises__gt=limit)
        .order_by("csp_id", "-premises", "agreement_id")
    )
    per_csp = {}
    for row in rows:
        per_csp.setdefault(row.pop("csp_id"), []).append(row)
    return [
        Finding(
            csp_id=csp_id,
            summary=f"{len(found)} request(s) for more than {limit} residential premises "
            f"(largest: {found[0]['premises']})",
            figures={
                "agreements": found[:50],
                "requests": len(found),
                "largest": found[0]["premises"],
            },  # fmt: skip
            samples=_agreement_samples([row["agreement_id"] for row in found[:SAMPLE_SIZE]]),
            links=[_records_link(window, csp_id, RecordEvent.REQUEST_CREATED)],
        )
        for csp_id, found in per_csp.items()
    ]


def _agreement_samples(ids):
    """A few agreements, each with its premise count and masked address."""
    rows = (
        Agreement.objects.filter(pk__in=ids)
        .annotate(premises_count=Count("premises"))
        .order_by("pk")
        .values("id", "created_at", "status", "customer_email", "premises_count")
    )
    return [{**row, "customer_email": mask_email(row["customer_email"])} for row in rows]


# --- 10. Renewals sent to another address (flag a) -------------------------------------------


@detector(
    name="renewals_to_new_address",
    sample_model="affirmations.record",
    label="Renewals sent to a new address",
    serves="R12; red flag (a)",
    kind=RedFlagKind.AFFIRMATION,
    severity=Severity.MEDIUM,
    window=timedelta(days=7),
    thresholds={"min_renewals": 3},
)
def find_renewals_to_new_address(window, thresholds):
    """Renewal requests the CSP sent to an address other than the one that last
    affirmed (the record says so: ``to_affirmed_address`` false). One may be
    a customer's new mailbox; several are a CSP renewing through addresses it
    controls. The affirmed addresses were told; this shows the pattern."""
    elsewhere = _records().filter(
        event=RecordEvent.RENEWAL_REQUESTED, csp__isnull=False,
        details__to_affirmed_address=False, **window.bounds(),
    )  # fmt: skip
    rows = (
        elsewhere.values("csp_id")
        .annotate(renewals=Count("agreement_id", distinct=True))
        .filter(renewals__gte=thresholds["min_renewals"])
    )
    return [
        Finding(
            csp_id=row["csp_id"],
            summary=f"{row['renewals']} renewals sent to an address other than the affirmed one",
            figures={"renewals": row["renewals"]},
            samples=_renewal_samples(elsewhere.filter(csp_id=row["csp_id"])),
            links=[_records_link(window, row["csp_id"], RecordEvent.RENEWAL_REQUESTED)],
        )
        for row in rows
    ]


def _renewal_samples(records):
    rows = records.order_by("pk").values("id", "agreement_id", "created_at", "details")
    return [
        {"id": row["id"], "agreement_id": row["agreement_id"], "created_at": row["created_at"],
         "sent_to": row["details"].get("customer_email"),
         "affirmed_email": row["details"].get("affirmed_email")}
        for row in rows[:SAMPLE_SIZE]
    ]  # fmt: skip
