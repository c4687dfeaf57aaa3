"""The monitoring dashboard's figures and charts: weekly, last 12 weeks, overall or per CSP.

Every series is one GROUP BY query by week in the database; the charts are
inline SVG drawn here, so the admin needs no JavaScript and no outside CDN.
"""

from dataclasses import dataclass
from datetime import timedelta

from django import forms
from django.db.models import Count, Q
from django.db.models.functions import TruncWeek
from django.utils import timezone
from django.utils.html import escape

from affirmations.models import Record, RecordEvent
from csp_registry.models import Csp

from .detectors import DETECTORS
from .models import DetectorRun, DetectorSetting, PremiseAuthenticationAttempt, RedFlag

WEEKS = 12
_OUTCOMES = {
    RecordEvent.OPTED_IN: "opt_in",
    RecordEvent.OPTED_OUT: "opt_out",
    RecordEvent.REPORTED_SPAM: "spam",
    RecordEvent.TIMED_OUT: "time_out",
}


class DashboardQuery(forms.Form):
    """The dashboard's query string: ``?csp=<id>`` narrows it to one CSP.

    A value that names no CSP (``?csp=x``, a deleted id) is an error shown on
    the page, never a silent fall-back to every CSP.
    """

    csp = forms.ModelChoiceField(
        queryset=Csp.objects.order_by("legal_name").only("pk", "legal_name", "dba_name"),
        required=False,
        empty_label="All CSPs",
        label="CSP",
    )


@dataclass
class Week:
    start: object  # a date (Monday, local time)
    requests: int = 0
    opt_in: int = 0
    opt_out: int = 0
    spam: int = 0
    time_out: int = 0
    attempts: int = 0
    failed_attempts: int = 0
    open_flags: int = 0

    @property
    def outcomes(self):
        return self.opt_in + self.opt_out + self.spam + self.time_out

    def rate(self, name):
        return getattr(self, name) / self.outcomes if self.outcomes else 0.0

    @property
    def failure_ratio(self):
        return self.failed_attempts / self.attempts if self.attempts else 0.0


def week_starts(now, weeks=WEEKS):
    """The Mondays (local) of the last ``weeks`` weeks, oldest first, this week last."""
    local = timezone.localtime(now)
    monday = (local - timedelta(days=local.weekday())).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    return [monday - timedelta(weeks=n) for n in range(weeks - 1, -1, -1)]


def dashboard_weeks(*, now, csp_id=None):
    """One ``Week`` per week: requests, outcomes, attempts and flags open at its end."""
    starts = week_starts(now)
    weeks = {start.date(): Week(start.date()) for start in starts}
    since, scope = starts[0], {"csp_id": csp_id} if csp_id else {}
    _count_records(weeks, since, now, scope)
    _count_attempts(weeks, since, now, scope)
    _count_open_flags(weeks, starts, now, scope)
    return list(weeks.values())


def _by_week(queryset):
    return queryset.annotate(week=TruncWeek("created_at")).values("week")


def _week_of(weeks, moment):
    return weeks.get(timezone.localtime(moment).date() if hasattr(moment, "tzinfo") else moment)


def _count_records(weeks, since, now, scope):
    events = [RecordEvent.REQUEST_CREATED, *_OUTCOMES]
    records = Record.objects.exclude(agreement__sandbox=True).filter(  # never the sandbox's
        event__in=events, created_at__gte=since, created_at__lte=now
    )
    rows = _by_week(records.filter(**scope)).annotate(n=Count("id")).values("week", "event", "n")
    for row in rows:
        week = _week_of(weeks, row["week"])
        if week is None:
            continue
        name = _OUTCOMES.get(row["event"], "requests")
        setattr(week, name, getattr(week, name) + row["n"])


def _count_attempts(weeks, since, now, scope):
    attempts = PremiseAuthenticationAttempt.objects.filter(
        created_at__gte=since, created_at__lte=now, **scope
    )
    rows = _by_week(attempts).annotate(
        n=Count("id"), failed=Count("id", filter=Q(authenticated=False))
    )
    for row in rows:
        week = _week_of(weeks, row["week"])
        if week is not None:
            week.attempts, week.failed_attempts = row["n"], row["failed"]


def _count_open_flags(weeks, starts, now, scope):
    """Flags open at the end of each week: one query with a conditional count per week."""
    counts = {}
    for index, start in enumerate(starts):
        end = min(start + timedelta(weeks=1), now)
        counts[f"w{index}"] = Count(
            "id",
            filter=Q(created_at__lt=end) & (Q(resolved_at__isnull=True) | Q(resolved_at__gte=end)),
        )
    totals = RedFlag.objects.filter(**scope).aggregate(**counts)
    for index, start in enumerate(starts):
        weeks[start.date()].open_flags = totals[f"w{index}"]


def detector_runs():
    """Every detector with its last run, failing ones first, then those that never ran."""
    runs = {run.detector: run for run in DetectorRun.objects.all()}
    enabled = dict(DetectorSetting.objects.values_list("name", "enabled"))
    rows = [
        {"name": name, "label": detector.label, "enabled": enabled.get(name, True),
         "run": runs.get(name)}
        for name, detector in DETECTORS.items()
    ]  # fmt: skip
    order = {False: 0, None: 1, True: 2}
    return sorted(rows, key=lambda row: (order[row["run"] and row["run"].ok], row["name"]))


# --- SVG --------------------------------------------------------------------------------

WIDTH, HEIGHT, PAD = 480, 160, 28


def line_chart(*, title, labels, series, percent=False):
    """An accessible inline SVG line chart. ``series`` is ``[(name, colour, values)]``."""
    top = max([max(values, default=0) for _, _, values in series] + [1e-9])
    top = 1.0 if percent and top <= 1 else top
    step = (WIDTH - 2 * PAD) / max(len(labels) - 1, 1)

    def point(i, value):
        return PAD + i * step, HEIGHT - PAD - (value / top) * (HEIGHT - 2 * PAD)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD}" '
        'stroke="#999"/>',
        f'<text x="2" y="{PAD - 6}" font-size="10">{escape(_fmt(top, percent))}</text>',
        f'<text x="{PAD}" y="{HEIGHT - 8}" font-size="10">{escape(labels[0])}</text>',
        f'<text x="{WIDTH - PAD}" y="{HEIGHT - 8}" font-size="10" text-anchor="end">'
        f"{escape(labels[-1])}</text>",
    ]
    for index, (name, colour, values) in enumerate(series):
        points = " ".join(f"{x:.1f},{y:.1f}" for x, y in (point(i, v) for i, v in
                                                            enumerate(values)))  # fmt: skip
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" '
                     f'points="{points}"><title>{escape(name)}</title></polyline>')  # fmt: skip
        parts.append(f'<text x="{WIDTH - PAD - 90 * (index + 1) + 90}" y="12" font-size="10" '
                     f'fill="{colour}" text-anchor="end">{escape(name)}</text>')  # fmt: skip
    parts.append("</svg>")
    return "".join(parts)


def _fmt(value, percent):
    return f"{value:.0%}" if percent else f"{value:,.0f}"


def dashboard_charts(weeks):
    labels = [f"{week.start:%b %d}" for week in weeks]
    rates = [
        ("opt-in", "#1b7837", [w.rate("opt_in") for w in weeks]),
        ("opt-out", "#b35806", [w.rate("opt_out") for w in weeks]),
        ("spam", "#b2182b", [w.rate("spam") for w in weeks]),
        ("time-out", "#5e3c99", [w.rate("time_out") for w in weeks]),
    ]
    return [
        line_chart(title="Requests per week", labels=labels,
                   series=[("requests", "#0b5394", [w.requests for w in weeks])]),
        line_chart(title="Outcome rates per week", labels=labels, series=rates, percent=True),
        line_chart(title="Authentication failure ratio per week", labels=labels, percent=True,
                   series=[("failure ratio", "#b2182b", [w.failure_ratio for w in weeks])]),
        line_chart(title="Open red flags at the end of each week", labels=labels,
                   series=[("open flags", "#333333", [w.open_flags for w in weeks])]),
    ]  # fmt: skip
