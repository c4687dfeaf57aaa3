"""Staff read the accounts' premise links and account events; nobody edits them here.

The committee and the auditors hold the view permissions (``monitoring.seed``):
who proved which premise, when a link closed and why. The account itself is
shown by its id, never its address.
"""

from django.contrib import admin

from .models import AccountEvent, PremiseLink


class _ReadOnly(admin.ModelAdmin):
    actions = None

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(PremiseLink)
class PremiseLinkAdmin(_ReadOnly):
    list_display = ("premise", "account", "linked_at", "unlinked_at", "unlink_reason")
    list_filter = ("unlink_reason",)
    list_select_related = ("premise",)
    fields = ("premise", "account", "linked_at", "unlinked_at", "unlink_reason")
    readonly_fields = fields
    ordering = ("-pk",)
    search_fields = ("=premise__esi_id",)
    search_help_text = "Exact ESI ID."

    @admin.display(description="account", ordering="user_id")
    def account(self, link):
        return f"#{link.user_id}"


@admin.register(AccountEvent)
class AccountEventAdmin(_ReadOnly):
    list_display = ("at", "kind", "account_ref", "ip")
    list_filter = ("kind",)
    fields = ("at", "kind", "account_ref", "ip", "details")
    readonly_fields = fields
    ordering = ("-pk",)
