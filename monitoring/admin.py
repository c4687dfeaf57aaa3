"""Staff screens of monitoring and enforcement.

- the attempt log: read-only, built for very large tables;
- red flags: listed open first; a flag's page shows its evidence with links
  to the rows behind it; actions (dismiss, escalate, uphold, suspend the CSP,
  revoke the CSP) ask for a reason and call ``monitoring.services``;
- Commission directives, carried out through the same services;
- detector settings and monitoring settings, edited by the committee;
- the monitoring dashboard at ``/admin/monitoring/dashboard/``.

Who may do what is a permission (see ``seed.py`` for the roles): reviewing
flags needs ``review_redflag``, enforcement ``enforce_redflag``, carrying
out a directive ``carry_out_commissiondirective``.
"""

import ipaddress

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Case, IntegerField, Value, When
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from csp_registry.services import CspTransitionError
from smt_portal.admin_actions import permission_check, reason_form, reason_page, staff_actor

from . import services
from .dashboard import DashboardQuery, dashboard_charts, dashboard_weeks, detector_runs
from .detectors import DETECTORS
from .models import (
    CommissionDirective,
    CustomerReport,
    Dashboard,
    DetectorSetting,
    FlagAction,
    FlagStatus,
    MonitoringSettings,
    PremiseAuthenticationAttempt,
    RedFlag,
)


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


def _reason_action(modeladmin, request, queryset, *, title, service):
    """Ask for a reason on an intermediate page, then call ``service`` per flag."""
    form = reason_form(request)
    if not form.is_valid():
        return reason_page(
            modeladmin, request, queryset, title=title, form=form,
            notice="and sent to the CSP in its suspension notice"
            if request.POST.get("action") == "suspend_csp" else "",
        )  # fmt: skip
    now, done = timezone.now(), 0
    for flag in queryset.select_related("csp"):
        try:
            service(
                flag=flag, actor=staff_actor(request), reason=form.cleaned_data["reason"], now=now
            )
            done += 1
        except (services.FlagTransitionError, CspTransitionError) as exc:
            modeladmin.message_user(request, str(exc), messages.ERROR)
    modeladmin.message_user(request, f"{title}: {done} flag(s).", messages.SUCCESS)
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


@admin.register(RedFlag)
class RedFlagAdmin(admin.ModelAdmin):
    list_display = ("id", "status", "csp", "kind", "severity", "summary", "detector",
                    "window_start", "created_at")  # fmt: skip
    list_display_links = ("id", "summary")
    list_filter = ("status", "kind", "severity", "detector", "csp")
    list_select_related = ("csp",)
    search_fields = ("=id", "csp__legal_name", "csp__dba_name", "summary")
    fields = readonly_fields = (
        "csp_link", "status", "kind", "severity", "summary", "detector_description",
        "window_start", "window_end", "created_at", "last_seen_at", "resolved_at",
        "report_link", "figures", "thresholds", "samples", "rows_behind",
    )  # fmt: skip
    inlines = [FlagActionInline]
    actions = [
        _flag_action("dismiss", "Dismiss", services.flag_dismiss, "review"),
        _flag_action("escalate", "Escalate", services.flag_escalate, "review"),
        _flag_action("uphold", "Uphold (record as founded)", services.flag_uphold, "review"),
        _flag_action("suspend_csp", "Suspend the CSP", services.flag_suspend_csp, "enforce"),
        _flag_action("revoke_csp", "Revoke the CSP (final)", services.flag_revoke_csp, "enforce"),
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

    @admin.display(description="CSP")
    def csp_link(self, flag):
        url = _admin_change_url("csp_registry.csp", flag.csp_id)
        return format_html('<a href="{}">{}</a> ({})', url, flag.csp, flag.csp.get_status_display())

    @admin.display(description="detector")
    def detector_description(self, flag):
        detector = DETECTORS.get(flag.detector)
        if detector is None:
            return flag.detector
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
        return _definition_list(flag.evidence.get("figures", {}))

    @admin.display(description="thresholds")
    def thresholds(self, flag):
        return _definition_list(flag.evidence.get("thresholds", {}))

    @admin.display(description="sample rows")
    def samples(self, flag):
        rows = flag.evidence.get("samples") or []
        if not rows:
            return "—"
        detector = DETECTORS.get(flag.detector)
        model = detector.sample_model if detector else ""
        columns = list(rows[0])
        header = format_html_join("", "<th>{}</th>", ((c,) for c in columns))
        body = format_html_join("", "<tr>{}</tr>", ((_sample_cells(row, columns, model),)
                                                     for row in rows))  # fmt: skip
        return format_html("<table><tr>{}</tr>{}</table>", header, body)

    @admin.display(description="rows behind the flag")
    def rows_behind(self, flag):
        links = flag.evidence.get("links") or []
        if not links:
            return "—"
        pairs = ((link["url"], link["label"]) for link in links)
        return format_html_join(mark_safe("<br>"), '<a href="{}">{}</a>', pairs)


def _definition_list(values):
    if not values:
        return "—"
    return format_html(
        "<dl>{}</dl>",
        format_html_join("", "<dt>{}</dt><dd>{}</dd>", ((k, v) for k, v in values.items())),
    )


def _sample_cells(row, columns, model):
    cells = []
    for column in columns:
        value = row[column]
        url = _admin_change_url(model, value) if column == "id" and model else ""
        cells.append(format_html('<td><a href="{}">{}</a></td>', url, value) if url
                     else format_html("<td>{}</td>", "" if value is None else value))  # fmt: skip
    return format_html_join("", "{}", ((cell,) for cell in cells))


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
    list_display = ("name", "enabled", "window", "thresholds", "updated_at")
    fields = ("name", "description", "enabled", "window", "thresholds", "updated_at")
    readonly_fields = ("name", "description", "updated_at")

    @admin.display(description="serves")
    def description(self, setting):
        detector = DETECTORS.get(setting.name)
        return f"{detector.label} — {detector.serves}" if detector else "—"

    def has_add_permission(self, request):
        return False  # one row per detector, seeded

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        obj.updated_at = timezone.now()
        super().save_model(request, obj, form, change)


@admin.register(MonitoringSettings)
class MonitoringSettingsAdmin(admin.ModelAdmin):
    list_display = ("__str__", "spam_cooldown_days")

    def has_add_permission(self, request):
        # The permission first: "no row yet" alone let any staff member add one.
        return super().has_add_permission(request) and not MonitoringSettings.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(CustomerReport)
class CustomerReportAdmin(admin.ModelAdmin):
    list_display = ("id", "created_at", "csp", "category", "outcome", "language")
    list_filter = ("outcome", "category", "csp")
    list_select_related = ("csp",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # decided through the report's red flag

    def has_delete_permission(self, request, obj=None):
        return False


@admin.action(description="Carry out selected directives", permissions=["carry_out"])
def carry_out(modeladmin, request, queryset):
    now, done = timezone.now(), 0
    for directive in queryset.select_related("csp"):
        try:
            services.directive_carry_out(directive=directive, actor=staff_actor(request), now=now)
            done += 1
        except (services.DirectiveNotReady, CspTransitionError) as exc:
            modeladmin.message_user(request, str(exc), messages.ERROR)
    modeladmin.message_user(request, f"{done} directive(s) carried out.", messages.SUCCESS)


@admin.register(CommissionDirective)
class CommissionDirectiveAdmin(admin.ModelAdmin):
    list_display = ("reference", "csp", "action", "relaying_tdu", "received_on",
                    "notice_given_on", "procedure_concluded_on", "carried_out_at")  # fmt: skip
    list_filter = ("action", "relaying_tdu")
    list_select_related = ("csp",)
    raw_id_fields = ("csp",)
    actions = [carry_out]
    _done = ("recorded_by", "carried_out_at", "carried_out_by", "outcome")

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.carried_out_at is not None:
            return [field.name for field in obj._meta.fields if field.name != "id"]
        return self._done

    def has_delete_permission(self, request, obj=None):
        return False

    has_carry_out_permission = permission_check("monitoring.carry_out_commissiondirective")

    def save_model(self, request, obj, form, change):
        if not change:
            obj.recorded_by = request.user
        super().save_model(request, obj, form, change)
