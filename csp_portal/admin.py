"""The CSP portal's people in the admin: read-only (members change in /csp/users/)."""

from django.contrib import admin

from .models import CspInvitation, CspMember, CspPortalEvent


class ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(CspMember)
class CspMemberAdmin(ReadOnly):
    list_display = ("user", "csp", "role", "created_at", "removed_at")
    list_filter = ("role",)
    search_fields = ("user__email", "csp__legal_name")
    list_select_related = ("user", "csp")


@admin.register(CspInvitation)
class CspInvitationAdmin(ReadOnly):
    # The token's hash is not shown: it opens nothing, but nothing needs it either.
    fields = (
        "csp",
        "email",
        "role",
        "created_at",
        "expires_at",
        "accepted_at",
        "revoked_at",
        "invited_by",
    )
    list_display = ("email", "csp", "role", "created_at", "expires_at", "accepted_at", "revoked_at")
    search_fields = ("email", "csp__legal_name")
    list_select_related = ("csp",)


@admin.register(CspPortalEvent)
class CspPortalEventAdmin(ReadOnly):
    list_display = ("at", "csp", "kind", "user", "ip")
    list_filter = ("kind",)
    search_fields = ("csp__legal_name",)
    list_select_related = ("csp", "user")
