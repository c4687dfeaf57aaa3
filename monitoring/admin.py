"""Staff screens for monitoring records: read-only, built for very large tables."""

import ipaddress

from django.contrib import admin
from django.core.paginator import Paginator
from django.utils.functional import cached_property

from monitoring.models import PremiseAuthenticationAttempt


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
