"""Staff screens of monitoring and enforcement.

- the attempt log: read-only, built for very large tables;
- red flags: listed open first; a flag's page shows its evidence (tables in
  words, with links to the rows behind it) and its decisions as buttons
  (dismiss, escalate, uphold, suspend the CSP, revoke the CSP) under one reason
  field, each shown to and checked for its permission, naming the CSP's other
  open flags a suspension or revocation also closes; the same decisions are
  list actions; all call ``monitoring.services``;
- the admin home's "N open red flags (M high)" (``templatetags/monitoring_admin``)
  and the CSP list's open-flag column (``csp_list_column_subscribe``);
- Commission directives, carried out through the same services;
- detector settings and monitoring settings, edited by the committee;
- the monitoring dashboard at ``/admin/monitoring/dashboard/``.

Who may do what is a permission (see ``seed.py`` for the roles): reviewing
flags needs ``review_redflag``, enforcement ``enforce_redflag``, carrying
out a directive ``carry_out_commissiondirective``.
"""

import ipaddress
from dataclasses import dataclass

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Case, Count, IntegerField, OuterRef, Subquery, Value, When
from django.db.models.functions import Coalesce
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.formats import date_format
from django.utils.functional import cached_property
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.safestring import mark_safe

from csp_registry.admin import csp_list_column_subscribe
from csp_registry.services import CspTransitionError
from smt_portal.admin_actions import permission_check, reason_form, reason_page, staff_actor

from . import services
from .dashboard import DashboardQuery, dashboard_charts, dashboard_weeks, detector_runs
from .detectors import DETECTORS
from .forms import (
    THRESHOLD_PREFIX,
    DetectorSettingForm,
    MonitoringSettingsForm,
    threshold_in_words,
    window_in_words,
)
from .models import (
    CommissionDirective,
    CustomerReport,
    Dashboard,
    DetectorSetting,
    FlagAction,
    FlagActionKind,
    FlagStatus,
    MonitoringSettings,
    PremiseAuthenticationAttempt,
    RedFlag,
)
from .texts import DETECTOR_WORDS, evidence_word, is_fraction


class CappedCountPaginator(Paginator):
    """Counts at most ``CAP`` rows: COUNT(*) over tens of millions of attempts
    takes seconds, and nobody pages that far; filters narrow the list instead."""

    CAP = 10_000

    @cached_property
    def count(self):
        return self.object_list.order_by()[: self.CAP].count()


@admin.register(PremiseAuthenticationAttempt)
class PremiseAuthenticationAttemptAdmin(admin.ModelAdmin):
    """Every attempt to authenticate a premise (R3, R18); nobody adds, edits or deletes one."""

    list_display = (
        "created_at",
        "csp",
        "ip",
        "esi_id",
        "meter_number",
        "rep_certificate_number",
        "authenticated",
        "failure_reason",
    )
    list_filter = ("authenticated", "failure_reason", "csp")
    list_select_related = ("csp",)
    raw_id_fields = ("csp", "premise")
    # Insertion order: served by the primary key, unlike a sort on created_at.
    ordering = ("-pk",)
    search_fields = ("=esi_id",)
    search_help_text = "Exact ESI ID or IP address."
    show_full_result_count = False
    paginator = CappedCountPaginator

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        try:
            return queryset.filter(ip=str(ipaddress.ip_address(term))), False
        except ValueError:
            pass
        # Only indexed columns are searchable; the ESI ID as pasted, separators removed.
        return queryset.filter(esi_id=term.replace(" ", "").replace("-", "")), False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# --- Red flags ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    """A decision on a flag: a list action and a button on the flag's page."""

    label: str
    service: object
    permission: str  # "review" or "enforce": ``RedFlagAdmin.has_<permission>_permission``
    done: str  # "Flag 12 dismissed."
    closes_siblings: bool = False
    final: bool = False  # the button asks once more, on a page of its own


DECISIONS = {
    "dismiss": Decision("Dismiss", services.flag_dismiss, "review", "dismissed"),
    "escalate": Decision("Escalate", services.flag_escalate, "review", "escalated"),
    "uphold": Decision("Uphold (record as founded)", services.flag_uphold, "review", "upheld"),
    "suspend_csp": Decision("Suspend the CSP", services.flag_suspend_csp, "enforce",
                            "closed; the CSP is suspended", closes_siblings=True),
    "revoke_csp": Decision("Revoke the CSP (final)", services.flag_revoke_csp, "enforce",
                           "closed; the CSP is revoked", closes_siblings=True, final=True),
}  # fmt: skip
_REASON_NOTICE = {"suspend_csp": "and sent to the CSP in its suspension notice"}
_KINDS = {
    "dismiss": FlagActionKind.DISMISS,
    "escalate": FlagActionKind.ESCALATE,
    "uphold": FlagActionKind.UPHOLD,
    "suspend_csp": FlagActionKind.SUSPEND,
    "revoke_csp": FlagActionKind.REVOKE,
}


def _reason_action(modeladmin, request, queryset, *, title, service):
    """Ask for a reason on an intermediate page, then call ``service`` per flag.

    Says only what happened: each refusal as an error, and a success line only
    for flags actually decided."""
    form = reason_form(request)
    if not form.is_valid():
        return reason_page(
            modeladmin, request, queryset, title=title, form=form,
            notice=_REASON_NOTICE.get(request.POST.get("action"), ""),
        )  # fmt: skip
    now, done = timezone.now(), []
    for flag in queryset.select_related("csp"):
        try:
            service(
                flag=flag, actor=staff_actor(request), reason=form.cleaned_data["reason"], now=now
            )
            done.append(str(flag.pk))
        except (services.FlagTransitionError, CspTransitionError) as exc:
            modeladmin.message_user(request, str(exc), messages.ERROR)
    if done:
        noun = "flag" if len(done) == 1 else "flags"
        modeladmin.message_user(request, f"{title}: {noun} {', '.join(done)}.", messages.SUCCESS)
    return None


def _flag_action(name, description, service, permission):
    @admin.action(description=description, permissions=[permission])
    def action(modeladmin, request, queryset):
        return _reason_action(modeladmin, request, queryset, title=description, service=service)

    action.__name__ = name
    return action


class FlagActionInline(admin.TabularInline):
    model = FlagAction
    fk_name = "flag"
    fields = readonly_fields = ("created_at", "action", "by", "reason", "decided_with_link")
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="decided with")
    def decided_with_link(self, action):
        if action.decided_with_id is None:
            return "—"
        url = _admin_change_url("monitoring.redflag", action.decided_with_id)
        return format_html('<a href="{}">Flag {}</a>', url, action.decided_with_id)


def _admin_change_url(model_label, pk):
    try:
        return reverse(f"admin:{model_label.replace('.', '_')}_change", args=[pk])
    except NoReverseMatch:
        return ""


def detector_name(name):
    """A detector's name in words ("Mass affirmation from one place")."""
    detector = DETECTORS.get(name)
    return detector.label if detector else DETECTOR_WORDS.get(name, evidence_word(name))


class DetectorFilter(admin.SimpleListFilter):
    title = "detector"
    parameter_name = "detector"

    def lookups(self, request, model_admin):
        names = [*DETECTORS, *DETECTOR_WORDS]
        return sorted(((name, detector_name(name)) for name in names), key=lambda c: c[1])

    def queryset(self, request, queryset):
        return queryset.filter(detector=self.value()) if self.value() else queryset


@admin.register(RedFlag)
class RedFlagAdmin(admin.ModelAdmin):
    list_display = ("id", "status", "csp", "kind", "severity", "summary", "detector_label",
                    "window_start", "created_at")  # fmt: skip
    list_display_links = ("id", "summary")
    list_filter = ("status", "kind", "severity", DetectorFilter, "csp")
    list_select_related = ("csp",)
    search_fields = ("=id", "csp__legal_name", "csp__dba_name", "summary")
    fields = readonly_fields = (
        "csp_link", "status", "kind", "severity", "summary", "detector_description",
        "window_start", "window_end", "created_at", "last_seen_at", "resolved_at",
        "report_link", "figures", "thresholds", "samples", "rows_behind",
    )  # fmt: skip
    inlines = [FlagActionInline]

    class Media:
        css = {"all": ["css/admin_console.css"]}

    actions = [
        _flag_action(name, decision.label, decision.service, decision.permission)
        for name, decision in DECISIONS.items()
    ]

    def get_queryset(self, request):
        # Open first, then escalated, then the decided ones; newest first within each.
        rank = Case(
            When(status=FlagStatus.OPEN, then=Value(0)),
            When(status=FlagStatus.ESCALATED, then=Value(1)),
            default=Value(2),
            output_field=IntegerField(),
        )
        queryset = self.model._default_manager.get_queryset().annotate(status_rank=rank)
        return queryset.order_by(*self.get_ordering(request))

    def get_ordering(self, request):
        return ("status_rank", "-created_at", "-id")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # flags change only through the actions

    def has_delete_permission(self, request, obj=None):
        return False

    has_review_permission = permission_check("monitoring.review_redflag")
    has_enforce_permission = permission_check("monitoring.enforce_redflag")

    # --- Deciding on the flag's own page -------------------------------------------------------

    def _decisions_for(self, request):
        """The decisions this staff member may take (a button each)."""
        return {
            name: decision
            for name, decision in DECISIONS.items()
            if getattr(self, f"has_{decision.permission}_permission")(request)
        }

    def change_view(self, request, object_id, form_url="", extra_context=None):
        """The flag's page; a POST with ``decision`` is one of its buttons."""
        if request.method == "POST" and "decision" in request.POST:
            return self.decide_view(request, object_id)
        flag = self.get_object(request, object_id)
        context = dict(extra_context or {})
        if flag is not None and self.has_view_permission(request, flag):
            # Only what the flag's status allows: an escalated flag is not escalated
            # again; one whose CSP was suspended may still lead to revocation.
            allowed = services.flag_decisions_allowed(flag)
            decisions = {name: decision for name, decision in self._decisions_for(request).items()
                         if _KINDS[name] in allowed}  # fmt: skip
            siblings = []
            if any(decision.closes_siblings for decision in decisions.values()):
                others = services.flag_siblings(flag).order_by("-created_at", "-pk")
                siblings = [(other, detector_name(other.detector)) for other in others]
            context |= {"decisions": decisions, "siblings": siblings}
        return super().change_view(request, object_id, form_url, extra_context=context)

    def decide_view(self, request, object_id):
        """One button: check its permission, call its service, say what happened."""
        flag = self.get_object(request, object_id)
        if flag is None:
            raise Http404
        name = request.POST.get("decision", "")
        decision = DECISIONS.get(name)
        if (
            decision is None
            or not self.has_view_permission(request, flag)
            or not getattr(self, f"has_{decision.permission}_permission")(request)
        ):
            raise PermissionDenied
        page = reverse("admin:monitoring_redflag_change", args=[flag.pk])
        reason = request.POST.get("reason", "").strip()
        if not reason:
            self.message_user(request, f"{decision.label}: give the reason for your decision.",
                              messages.ERROR)  # fmt: skip
            return HttpResponseRedirect(page)
        if decision.final and request.POST.get("confirmed") != "1":
            return self._confirm_final(request, flag, name, decision, reason)
        now = timezone.now()
        try:
            decision.service(flag=flag, actor=staff_actor(request), reason=reason, now=now)
        except (services.FlagTransitionError, CspTransitionError) as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return HttpResponseRedirect(page)
        said = f"Flag {flag.pk} {decision.done}"
        closed = FlagAction.objects.filter(decided_with=flag, created_at=now).count()
        if closed:
            said += f"; {closed} other open flag{'s' if closed != 1 else ''} of {flag.csp} closed"
        self.message_user(request, f"{said}.", messages.SUCCESS)
        return HttpResponseRedirect(page)

    def _confirm_final(self, request, flag, name, decision, reason):
        """A final decision's own page: what it does, the flags it also closes, the
        reason again, and the button once more."""
        others = services.flag_siblings(flag).order_by("-created_at", "-pk")
        context = {
            **self.admin_site.each_context(request),
            "title": f"{decision.label}: {flag.csp}",
            "opts": self.opts,
            "flag": flag,
            "name": name,
            "decision": decision,
            "reason": reason,
            "siblings": [(other, detector_name(other.detector)) for other in others],
            "media": self.media,
        }
        return TemplateResponse(request, "admin/monitoring/redflag/confirm_final.html", context)

    @admin.display(description="detector", ordering="detector")
    def detector_label(self, flag):
        return detector_name(flag.detector)

    @admin.display(description="CSP")
    def csp_link(self, flag):
        url = _admin_change_url("csp_registry.csp", flag.csp_id)
        return format_html('<a href="{}">{}</a> ({})', url, flag.csp, flag.csp.get_status_display())

    @admin.display(description="detector")
    def detector_description(self, flag):
        detector = DETECTORS.get(flag.detector)
        if detector is None:
            return detector_name(flag.detector)
        return f"{detector.label} — serves {detector.serves}"

    @admin.display(description="report")
    def report_link(self, flag):
        if flag.report_id is None:
            return "—"
        report = flag.report
        url = _admin_change_url("monitoring.customerreport", report.pk)
        return format_html('<a href="{}">Report {}</a>: {}', url, report.pk, report.description)

    @admin.display(description="figures")
    def figures(self, flag):
        return _figures_table(flag.evidence.get("figures", {}))

    @admin.display(description="thresholds")
    def thresholds(self, flag):
        return _figures_table(flag.evidence.get("thresholds", {}))

    @admin.display(description="sample rows")
    def samples(self, flag):
        rows = flag.evidence.get("samples") or []
        if not rows:
            return "—"
        detector = DETECTORS.get(flag.detector)
        model = detector.sample_model if detector else ""
        return _rows_table(rows, model=model)

    @admin.display(description="rows behind the flag")
    def rows_behind(self, flag):
        links = flag.evidence.get("links") or []
        if not links:
            return "—"
        pairs = ((link["url"], link["label"]) for link in links)
        return format_html_join(mark_safe("<br>"), '<a href="{}">{}</a>', pairs)


# --- The CSP list: each CSP's open flags ------------------------------------------------------


@admin.display(description="open red flags", ordering="open_red_flags")
def open_red_flags(csp):
    if not csp.open_red_flags:
        return "0"
    query = urlencode({"csp__id__exact": csp.pk, "status__exact": FlagStatus.OPEN})
    url = f"{reverse('admin:monitoring_redflag_changelist')}?{query}"
    return format_html('<a href="{}">{}</a>', url, csp.open_red_flags)


csp_list_column_subscribe(
    open_red_flags,
    open_red_flags=Coalesce(
        Subquery(
            RedFlag.objects.filter(csp=OuterRef("pk"), status=FlagStatus.OPEN)
            .order_by()
            .values("csp")
            .annotate(n=Count("pk"))
            .values("n")
        ),
        0,
    ),
)


# --- Evidence in words: small tables, percentages, Central times -------------------------------


def _figures_table(values):
    """Name → value as a two-column table; a list of rows becomes its own table."""
    if not values:
        return "—"
    rows = format_html_join(
        "", '<tr><th scope="row">{}</th><td>{}</td></tr>',
        ((evidence_word(name), _evidence_value(name, value)) for name, value in values.items()),
    )  # fmt: skip
    return format_html('<table class="evidence">{}</table>', rows)


def _rows_table(rows, *, model=""):
    if not rows:
        return "—"
    columns = list(dict.fromkeys(column for row in rows for column in row))
    header = format_html_join("", '<th scope="col">{}</th>', ((evidence_word(c),) for c in columns))
    body = format_html_join("", "<tr>{}</tr>", ((_row_cells(row, columns, model),)
                                                 for row in rows))  # fmt: skip
    return format_html('<table class="evidence"><tr>{}</tr>{}</table>', header, body)


def _row_cells(row, columns, model):
    cells = []
    for column in columns:
        value = row.get(column)
        url = _admin_change_url(model, value) if column == "id" and model and value else ""
        shown = _evidence_value(column, value)
        cells.append(format_html('<td><a href="{}">{}</a></td>', url, shown) if url
                     else format_html("<td>{}</td>", shown))  # fmt: skip
    return format_html_join("", "{}", ((cell,) for cell in cells))


def _evidence_value(name, value):
    """One value as staff read it: no Python reprs, fractions as percentages,
    times in Central, yes/no for booleans."""
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, int | float) and is_fraction(name):
        return f"{value:.1%}".replace(".0%", "%")
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, dict):
        return _figures_table(value)
    if isinstance(value, list):
        if all(isinstance(item, dict) for item in value):
            return _rows_table(value)
        return ", ".join(str(_evidence_value(name, item)) for item in value)
    if isinstance(value, str) and len(value) >= 19 and value[4:5] == "-" and "T" in value:
        moment = parse_datetime(value)
        if moment is not None and timezone.is_aware(moment):
            return date_format(timezone.localtime(moment), "Y-m-d H:i:s T")
    return value


# --- Dashboard --------------------------------------------------------------------------------


@admin.register(Dashboard)
class DashboardAdmin(admin.ModelAdmin):
    """``/admin/monitoring/dashboard/``: weekly rates, overall or for one CSP (``?csp=``).

    Only that page: the proxy's change and history pages would show red flags
    to whoever may see the dashboard, under another permission.
    """

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        name = f"{self.opts.app_label}_{self.opts.model_name}_changelist"
        return [path("", self.admin_site.admin_view(self.changelist_view), name=name)]

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_permission(request):
            raise PermissionDenied
        query = DashboardQuery(request.GET)
        context = {
            **self.admin_site.each_context(request),
            "title": "Monitoring dashboard",
            "opts": self.model._meta,
            "form": query,
        }
        if not query.is_valid():
            template = "admin/monitoring/dashboard.html"
            return TemplateResponse(request, template, context, status=400)
        csp = query.cleaned_data["csp"]
        weeks = dashboard_weeks(now=timezone.now(), csp_id=csp.pk if csp else None)
        context |= {
            "title": f"Monitoring dashboard — {csp or 'all CSPs'}",
            "weeks": weeks,
            "charts": dashboard_charts(weeks),
            "detector_runs": detector_runs(),
            "csp": csp,
        }
        return TemplateResponse(request, "admin/monitoring/dashboard.html", context)


# --- Settings, reports, directives ---------------------------------------------------------------


@admin.register(DetectorSetting)
class DetectorSettingAdmin(admin.ModelAdmin):
    """A detector's switch, window (a number and a unit) and thresholds, each a
    typed field with its unit and help (``forms.DetectorSettingForm``)."""

    form = DetectorSettingForm
    list_display = ("label", "enabled", "window_words", "thresholds_words", "updated_at")
    list_display_links = ("label",)
    readonly_fields = ("name", "description", "updated_at")

    @admin.display(description="detector")
    def label(self, setting):
        detector = DETECTORS.get(setting.name)
        return detector.label if detector else "—"

    @admin.display(description="serves")
    def description(self, setting):
        detector = DETECTORS.get(setting.name)
        return f"{detector.label} — {detector.serves}" if detector else "—"

    @admin.display(description="window", ordering="window")
    def window_words(self, setting):
        return window_in_words(setting.window)

    @admin.display(description="thresholds")
    def thresholds_words(self, setting):
        values = (setting.thresholds or {}).items()
        return format_html_join(
            mark_safe("<br>"), "{}: {}",
            ((evidence_word(name), threshold_in_words(name, value)) for name, value in values),
        )  # fmt: skip

    def get_form(self, request, obj=None, change=False, **kwargs):
        # The window and thresholds are the form's own fields, not the model's.
        return super().get_form(request, obj, change, **{**kwargs, "fields": ("enabled",)})

    def get_fieldsets(self, request, obj=None):
        detector = DETECTORS.get(obj.name) if obj is not None else None
        main = ("name", "description", "enabled", ("window_amount", "window_unit"), "updated_at")
        if not self.has_change_permission(request, obj):
            return [(None, {"fields": (*main[:3], "window_words", "thresholds_words",
                                       "updated_at")})]  # fmt: skip
        names = [THRESHOLD_PREFIX + name for name in (detector.thresholds if detector else ())]
        return [(None, {"fields": main}), ("Thresholds", {"fields": names})]

    def get_readonly_fields(self, request, obj=None):
        if not self.has_change_permission(request, obj):
            return ("name", "description", "enabled", "window_words", "thresholds_words",
                    "updated_at")  # fmt: skip
        return self.readonly_fields

    def has_add_permission(self, request):
        return False  # one row per detector, seeded

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        obj.updated_at = timezone.now()
        super().save_model(request, obj, form, change)


@admin.register(MonitoringSettings)
class MonitoringSettingsAdmin(admin.ModelAdmin):
    form = MonitoringSettingsForm
    list_display = ("__str__", "spam_cooldown_days")

    def has_add_permission(self, request):
        # The permission first: "no row yet" alone let any staff member add one.
        return super().has_add_permission(request) and not MonitoringSettings.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(CustomerReport)
class CustomerReportAdmin(admin.ModelAdmin):
    """Reports from ``/report/``. A report is decided on its own page (uphold or
    dismiss, with a reason: ``review_redflag``) or through its flag: both call
    the same service, which decides every report on that flag."""

    list_display = ("id", "created_at", "csp", "category", "outcome", "language")
    list_filter = ("outcome", "category", "csp")
    list_select_related = ("csp",)
    change_form_template = "admin/monitoring/customerreport/change_form.html"

    has_review_permission = permission_check("monitoring.review_redflag")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # decided by the buttons below, never edited

    def has_delete_permission(self, request, obj=None):
        return False

    def change_view(self, request, object_id, form_url="", extra_context=None):
        report = self.get_object(request, object_id)
        if report is None or not self.has_view_permission(request, report):
            return super().change_view(request, object_id, form_url, extra_context)
        flag = services.report_flag(report)
        can_decide = self.has_review_permission(request) and flag is not None and flag.is_unresolved
        if request.method == "POST" and "decision" in request.POST:
            return self._decide(request, report, allowed=can_decide)
        extra_context = {**(extra_context or {}), "can_decide": can_decide, "report_flag": flag}
        return super().change_view(request, object_id, form_url, extra_context)

    def _decide(self, request, report, *, allowed):
        if not self.has_review_permission(request):
            raise PermissionDenied
        here = reverse("admin:monitoring_customerreport_change", args=[report.pk])
        decision, reason = request.POST["decision"], request.POST.get("reason", "").strip()
        if decision not in ("uphold", "dismiss"):
            raise PermissionDenied
        if not reason:
            self.message_user(request, "Give a reason for the decision.", messages.ERROR)
            return HttpResponseRedirect(here)
        try:
            services.report_decide(
                report=report, uphold=decision == "uphold", actor=staff_actor(request),
                reason=reason, now=timezone.now(),
            )  # fmt: skip
        except services.FlagTransitionError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return HttpResponseRedirect(here)
        word = "upheld" if decision == "uphold" else "dismissed (not upheld)"
        self.message_user(request, f"Report {report.pk} {word}.", messages.SUCCESS)
        return HttpResponseRedirect(here)


def _directive_carry_out(modeladmin, request, directive, now):
    """Carry out one directive; the error in words if refused, else ``None``."""
    try:
        services.directive_carry_out(directive=directive, actor=staff_actor(request), now=now)
    except (services.DirectiveNotReady, CspTransitionError) as exc:
        return str(exc)
    return None


@admin.action(description="Carry out selected directives", permissions=["carry_out"])
def carry_out(modeladmin, request, queryset):
    # Say only what happened: each refusal as an error, a success only if any.
    now, done = timezone.now(), 0
    for directive in queryset.select_related("csp"):
        error = _directive_carry_out(modeladmin, request, directive, now)
        if error:
            modeladmin.message_user(request, error, messages.ERROR)
        else:
            done += 1
    if done:
        modeladmin.message_user(request, f"{done} directive(s) carried out.", messages.SUCCESS)


@admin.register(CommissionDirective)
class CommissionDirectiveAdmin(admin.ModelAdmin):
    """Directives relayed by a TDU (R22): the CSP is chosen by name; a directive
    is carried out by the "Carry out" button on its page or the list's action
    (``carry_out_commissiondirective``)."""

    list_display = ("reference", "csp", "action", "relaying_tdu", "received_on",
                    "notice_given_on", "procedure_concluded_on", "carried_out_at")  # fmt: skip
    list_filter = ("action", "relaying_tdu")
    list_select_related = ("csp",)
    autocomplete_fields = ("csp",)
    actions = [carry_out]
    change_form_template = "admin/monitoring/commissiondirective/change_form.html"
    _done = ("recorded_by", "carried_out_at", "carried_out_by", "outcome")

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.carried_out_at is not None:
            return [field.name for field in obj._meta.fields if field.name != "id"]
        return self._done

    def has_delete_permission(self, request, obj=None):
        return False

    has_carry_out_permission = permission_check("monitoring.carry_out_commissiondirective")

    def change_view(self, request, object_id, form_url="", extra_context=None):
        directive = self.get_object(request, object_id)
        if directive is None or not self.has_view_permission(request, directive):
            return super().change_view(request, object_id, form_url, extra_context)
        if request.method == "POST" and "_carry_out" in request.POST:
            return self._carry_out_one(request, directive)
        extra_context = {
            **(extra_context or {}),
            "can_carry_out": self.has_carry_out_permission(request)
            and directive.carried_out_at is None,
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def _carry_out_one(self, request, directive):
        if not self.has_carry_out_permission(request):
            raise PermissionDenied
        error = _directive_carry_out(self, request, directive, timezone.now())
        if error:
            self.message_user(request, error, messages.ERROR)
        else:
            self.message_user(request, f"Directive {directive.reference}: {directive.outcome}",
                              messages.SUCCESS)  # fmt: skip
        return HttpResponseRedirect(
            reverse("admin:monitoring_commissiondirective_change", args=[directive.pk])
        )

    def save_model(self, request, obj, form, change):
        if not change:
            obj.recorded_by = request.user
        super().save_model(request, obj, form, change)
