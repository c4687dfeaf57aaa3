from django.contrib import admin, messages
from django.utils import timezone

from outbox import services
from outbox.models import OutboundEmail
from smt_portal.admin_actions import permission_check


@admin.register(OutboundEmail)
class OutboundEmailAdmin(admin.ModelAdmin):
    """Read-only: rows change only through the outbox services (``retry_outboundemail``
    sends failed ones again).

    The bodies are not shown: emails carry single-use links (affirmation,
    renewal) that staff must not be able to follow on a customer's behalf.
    """

    list_display = (
        "id",
        "kind",
        "to_address",
        "subject",
        "status",
        "attempts",
        "created_at",
        "sent_at",
    )
    list_filter = ("status", "kind", "language")
    search_fields = ("=to_address", "=related_label")
    ordering = ("-id",)
    show_full_result_count = False
    fields = (
        "kind",
        "language",
        "to_address",
        "subject",
        "related_label",
        "status",
        "attempts",
        "created_at",
        "next_attempt_at",
        "claimed_at",
        "sent_at",
        "last_error",
    )
    readonly_fields = fields
    actions = ("retry_now",)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    # Operators' work: no role in monitoring/seed.py is granted it.
    has_retry_permission = permission_check("outbox.retry_outboundemail")

    @admin.action(description="Retry now (failed emails only)", permissions=["retry"])
    def retry_now(self, request, queryset):
        now = timezone.now()
        retried = sum(
            services.email_retry(email_id=pk, now=now)
            for pk in queryset.values_list("pk", flat=True)
        )
        skipped = queryset.count() - retried
        self.message_user(
            request,
            f"{retried} email(s) queued again; {skipped} were not failed and were left alone.",
            messages.SUCCESS,
        )
