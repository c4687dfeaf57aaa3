"""Staff see every data read, per CSP: who read which premise's data, when,
from where, and what was refused. Read-only: the log is evidence."""

from django.contrib import admin

from .models import DataAccessLog


@admin.register(DataAccessLog)
class DataAccessLogAdmin(admin.ModelAdmin):
    list_display = [
        "created_at", "csp", "key_prefix", "agreement_id", "esi_id", "kind", "format",
        "start", "end", "status_code", "error_code", "days", "intervals", "completed", "ip",
    ]  # fmt: skip
    list_select_related = ["csp"]
    # "csp" first: the red flags link here filtered by CSP and window.
    list_filter = ["csp", "kind", "status_code", "error_code", "format", "completed"]
    search_fields = ["=esi_id", "=agreement_id", "=ip", "=key_prefix"]
    date_hierarchy = "created_at"
    show_full_result_count = False  # the table is large
    ordering = ["-created_at", "-id"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
