"""Read-only admin of webhook endpoints and deliveries; staff may resend a delivery.

The signing secret is never shown (it is not stored: see ``signing.py``),
only its first characters, and the seal it is rebuilt from is not a field.
"""

from django.contrib import admin, messages
from django.utils import timezone

from smt_portal.admin_actions import permission_check

from . import services
from .models import WebhookAttempt, WebhookDelivery, WebhookEndpoint


class _ReadOnly:
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(_ReadOnly, admin.ModelAdmin):
    list_display = ["id", "csp", "url", "secret_prefix", "created_at", "failing_since",
                    "disabled_at", "deleted_at"]  # fmt: skip
    list_select_related = ["csp"]
    list_filter = [("disabled_at", admin.EmptyFieldListFilter),
                   ("deleted_at", admin.EmptyFieldListFilter)]  # fmt: skip
    search_fields = ["=csp__legal_name", "url"]
    raw_id_fields = ["csp"]
    fields = readonly_fields = [
        "csp",
        "url",
        "event_types",
        "secret_prefix",
        "created_at",
        "failing_since",
        "disabled_at",
        "disabled_reason",
        "deleted_at",
    ]


class WebhookAttemptInline(_ReadOnly, admin.TabularInline):
    model = WebhookAttempt
    extra = 0
    can_delete = False
    fields = readonly_fields = ["started_at", "duration_ms", "status_code", "error",
                                "response_excerpt"]  # fmt: skip


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(_ReadOnly, admin.ModelAdmin):
    list_display = ["id", "endpoint", "event", "status", "attempts", "next_attempt_at",
                    "last_status_code", "created_at", "delivered_at"]  # fmt: skip
    list_select_related = ["endpoint", "event"]
    list_filter = ["status"]
    search_fields = ["=endpoint__id", "=event__id"]
    raw_id_fields = ["endpoint", "event"]
    ordering = ["-id"]
    show_full_result_count = False
    fields = readonly_fields = ["endpoint", "event", "status", "attempts", "created_at",
                                "next_attempt_at", "deliver_until", "claimed_at",
                                "last_status_code", "last_error", "delivered_at"]  # fmt: skip
    inlines = [WebhookAttemptInline]
    actions = ["resend"]

    has_resend_permission = permission_check("webhooks.resend_webhookdelivery")

    @admin.action(description="Resend now (a fresh 72 hours of retries)", permissions=["resend"])
    def resend(self, request, queryset):
        now = timezone.now()
        resent = sum(
            services.delivery_resend(delivery_id=pk, now=now)
            for pk in queryset.values_list("pk", flat=True)
        )
        skipped = queryset.count() - resent
        self.message_user(
            request,
            f"{resent} delivery(ies) queued again; {skipped} were being sent or belong to a "
            "deleted or disabled endpoint, and were left alone.",
            messages.SUCCESS,
        )
