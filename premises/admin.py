"""Staff screens for the reference data and the premise feed.

The premise table holds millions of rows: searches are exact matches on
indexed columns, foreign keys are raw ids, and counts are avoided.
"""

from django.contrib import admin
from django.utils.html import format_html, format_html_join

from premises.identifiers import InvalidIdentifier, normalize_esi_id, normalize_meter_number
from premises.models import Meter, MonthlyUsage, Premise, RetailElectricProvider, Tdu, TermPolicy

USAGE_MONTHS_SHOWN = 24


@admin.register(Tdu)
class TduAdmin(admin.ModelAdmin):
    list_display = ("name", "code", "puct_id", "esi_id_prefixes", "esi_id_length", "approx_meters")
    search_fields = ("name", "code")


@admin.register(RetailElectricProvider)
class RetailElectricProviderAdmin(admin.ModelAdmin):
    list_display = ("legal_name", "certificate_number", "dba_names", "city", "active")
    list_filter = ("active",)
    search_fields = ("certificate_number", "legal_name", "dba_names")


def exact_identifier_search(term):
    """The ESI ID and meter number a search term can stand for (either may be None)."""
    esi_id = meter_number = None
    try:
        esi_id = normalize_esi_id(term)
    except InvalidIdentifier:
        pass
    try:
        meter_number = normalize_meter_number(term)
    except InvalidIdentifier:
        pass
    return esi_id, meter_number


class MeterInline(admin.TabularInline):
    """The meter history of a premise; meter exchanges arrive in the feed."""

    model = Meter
    fields = ("number", "installed_on", "removed_on")
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ("-installed_on",)
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Premise)
class PremiseAdmin(admin.ModelAdmin):
    list_display = ("esi_id", "tdu", "rep_of_record", "customer_class", "service_address")
    list_filter = ("customer_class", "tdu")
    list_select_related = ("tdu", "rep_of_record")
    raw_id_fields = ("tdu", "rep_of_record")
    readonly_fields = ("recent_usage", "created_at", "updated_at")
    # search_fields must be non-empty for the search box; get_search_results
    # replaces Django's icontains scan with exact, indexed lookups.
    search_fields = ("=esi_id",)
    search_help_text = "Exact ESI ID or meter number."
    show_full_result_count = False
    inlines = (MeterInline,)

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        esi_id, meter_number = exact_identifier_search(term)
        premise_ids = []
        if meter_number:
            # A literal id list keeps both branches of the OR on an index.
            premise_ids = list(
                Meter.objects.filter(number=meter_number).values_list("premise_id", flat=True)
            )
        return queryset.filter(esi_id=esi_id or "") | queryset.filter(pk__in=premise_ids), False

    @admin.display(description=f"monthly usage (last {USAGE_MONTHS_SHOWN} months)")
    def recent_usage(self, premise):
        rows = MonthlyUsage.objects.filter(premise=premise).order_by("-month")[:USAGE_MONTHS_SHOWN]
        if not rows:
            return "No usage on file."
        body = format_html_join(
            "", "<tr><td>{}</td><td>{} kWh</td></tr>", ((f"{r.month:%Y-%m}", r.kwh) for r in rows)
        )
        return format_html("<table><tr><th>month</th><th>usage</th></tr>{}</table>", body)


@admin.register(Meter)
class MeterAdmin(admin.ModelAdmin):
    list_display = ("number", "premise", "installed_on", "removed_on")
    list_select_related = ("premise",)
    raw_id_fields = ("premise",)
    search_fields = ("=number",)
    search_help_text = "Exact meter number."
    show_full_result_count = False

    def get_search_results(self, request, queryset, search_term):
        # Django's "=" is iexact (UPPER(...) = UPPER(...)), which no index serves.
        if not search_term.strip():
            return queryset, False
        _, meter_number = exact_identifier_search(search_term)
        return queryset.filter(number=meter_number or ""), False


@admin.register(TermPolicy)
class TermPolicyAdmin(admin.ModelAdmin):
    """The single policy row (R11): editable, never duplicated or deleted."""

    list_display = (
        "__str__",
        "standard_max_months",
        "large_commercial_max_months",
        "large_commercial_threshold_kwh",
        "renewal_window_days",
        "updated_at",
    )
    readonly_fields = ("updated_at",)

    def has_add_permission(self, request):
        # The permission first: "no row yet" alone let any staff member add one.
        return super().has_add_permission(request) and not TermPolicy.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False
