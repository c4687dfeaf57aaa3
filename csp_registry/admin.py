"""Staff tools: review applications, change statuses, issue and revoke API keys.

Status changes happen only through actions that call the services (each asks
for a reason on an intermediate page and records the acting user). Who may
do what is a permission (roles in ``monitoring/seed.py``): approving and
rejecting applications needs ``review_csp``; suspending, reinstating and
revoking ``enforce_csp`` (the management committee's; the Commission acts
through a directive, carried out in ``monitoring``); issuing and revoking keys
``issue_apikey`` and ``revoke_apikey``. A new key is shown once, on the page
answering the POST that issued it; its hash never appears.
"""

from django.contrib import admin, messages
from django.db import models
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers

from smt_portal.admin_actions import permission_check, reason_form, reason_page, staff_actor

from . import services
from .models import ApiKey, ApiRequestLog, Csp, CspStatusChange


def _status_action(modeladmin, request, queryset, *, title, service, reason_required=True):
    form = reason_form(request, reason_required=reason_required)
    if not form.is_valid():
        return reason_page(
            modeladmin, request, queryset, title=title, form=form,
            notice="and sent to the CSP in its suspension notice" if title == "Suspend" else "",
        )  # fmt: skip
    now, changed = timezone.now(), 0
    for csp in queryset:
        try:
            service(
                csp=csp, now=now, actor=staff_actor(request), reason=form.cleaned_data["reason"]
            )
            changed += 1
        except services.CspTransitionError as exc:
            modeladmin.message_user(request, str(exc), messages.ERROR)
    if changed:  # a refusal alone shows only its error
        modeladmin.message_user(request, f"{title}: {changed} CSP(s) changed.", messages.SUCCESS)
    return None


@admin.action(description="Approve selected applications", permissions=["review"])
def approve(modeladmin, request, queryset):
    return _status_action(
        modeladmin,
        request,
        queryset,
        title="Approve",
        service=services.csp_approve,
        reason_required=False,
    )


@admin.action(description="Reject selected applications", permissions=["review"])
def reject(modeladmin, request, queryset):
    return _status_action(
        modeladmin, request, queryset, title="Reject", service=services.csp_reject
    )


@admin.action(description="Suspend selected CSPs", permissions=["enforce"])
def suspend(modeladmin, request, queryset):
    return _status_action(
        modeladmin, request, queryset, title="Suspend", service=services.csp_suspend
    )


@admin.action(description="Reinstate selected CSPs", permissions=["enforce"])
def reinstate(modeladmin, request, queryset):
    return _status_action(
        modeladmin, request, queryset, title="Reinstate", service=services.csp_reinstate
    )


@admin.action(description="Revoke selected CSPs (final)", permissions=["enforce"])
def revoke(modeladmin, request, queryset):
    return _status_action(
        modeladmin, request, queryset, title="Revoke", service=services.csp_revoke
    )


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class ApiKeyInline(ReadOnlyInline):
    model = ApiKey
    fields = readonly_fields = [
        "prefix",
        "name",
        "created_at",
        "created_by",
        "last_used_at",
        "expires_at",
        "revoked_at",
    ]


class CspStatusChangeInline(ReadOnlyInline):
    model = CspStatusChange
    fields = readonly_fields = [
        "changed_at",
        "from_status",
        "to_status",
        "reason",
        "changed_by",
        "actor",
    ]


# Columns higher apps add to the CSP list (monitoring: open red flags), each
# reading annotations computed in the list's one query.
_LIST_COLUMNS = []


def csp_list_column_subscribe(column, **annotations):
    """Show ``column`` (an admin display function of one CSP) in the CSP list,
    with the annotations it reads."""
    if all(column is not known for known, _ in _LIST_COLUMNS):
        _LIST_COLUMNS.append((column, annotations))


@admin.register(Csp)
class CspAdmin(admin.ModelAdmin):
    list_display = [
        "display_name", "status", "scope_of_use_in_both", "contact_email", "created_at",
        "status_changed_at",
    ]  # fmt: skip
    list_filter = ["status"]
    search_fields = ["legal_name", "dba_name", "contact_email", "duns_number"]
    readonly_fields = ["status", "status_changed_at", "created_at"]
    actions = [approve, reject, suspend, reinstate, revoke]
    inlines = [ApiKeyInline, CspStatusChangeInline]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    has_review_permission = permission_check("csp_registry.review_csp")
    has_enforce_permission = permission_check("csp_registry.enforce_csp")

    def get_list_display(self, request):
        return [*super().get_list_display(request), *(column for column, _ in _LIST_COLUMNS)]

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        for _, annotations in _LIST_COLUMNS:
            queryset = queryset.annotate(**annotations)
        return queryset

    @admin.display(boolean=True, description="scope of use in English and Spanish")
    def scope_of_use_in_both(self, obj):
        # Without both, the CSP cannot start requests (``create_csp`` leaves them blank).
        return obj.has_scope_of_use

    def has_delete_permission(self, request, obj=None):
        return False  # revoke, never delete


@admin.action(description="Revoke selected API keys", permissions=["revoke"])
def revoke_keys(modeladmin, request, queryset):
    now = timezone.now()
    count = sum(services.csp_revoke_key(api_key=key, now=now) for key in queryset)
    modeladmin.message_user(request, f"{count} key(s) revoked.", messages.SUCCESS)


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["__str__", "csp", "created_at", "last_used_at", "expires_at", "revoked_at"]
    list_select_related = ["csp"]
    list_filter = ["revoked_at"]
    search_fields = ["prefix", "name", "csp__legal_name"]
    raw_id_fields = ["csp"]
    actions = [revoke_keys]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["csp", "name", "expires_at"]
        return [
            "csp",
            "prefix",
            "name",
            "created_at",
            "created_by",
            "last_used_at",
            "expires_at",
            "revoked_at",
        ]

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.get_fields(request, obj)

    has_revoke_permission = permission_check("csp_registry.revoke_apikey")

    def has_add_permission(self, request):
        return request.user.has_perm("csp_registry.issue_apikey")

    def has_change_permission(self, request, obj=None):
        return False  # a key never changes: revoke it and issue another

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        api_key, full_key = services.csp_issue_key(
            csp=obj.csp,
            name=obj.name,
            expires_at=obj.expires_at,
            actor=staff_actor(request),
            now=timezone.now(),
        )
        obj.pk, obj.prefix, obj.created_at = api_key.pk, api_key.prefix, api_key.created_at
        obj.full_key = full_key  # on this object only, for response_add

    def response_add(self, request, obj, post_url_continue=None):
        """The new key, once, in the answer to the POST that issued it.

        Not in a message (messages travel in a signed, readable cookie), not
        behind a redirect, and never stored by a cache or the browser.
        """
        context = {
            **self.admin_site.each_context(request),
            "title": f"New API key for {obj.csp}",
            "opts": self.model._meta,
            "api_key": obj,
            "full_key": obj.full_key,
        }
        response = TemplateResponse(request, "admin/csp_registry/apikey/issued.html", context)
        add_never_cache_headers(response)
        return response


@admin.register(ApiRequestLog)
class ApiRequestLogAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "csp",
        "key_prefix",
        "ip",
        "method",
        "path",
        "status_code",
        "error_code",
        "forwarded_header_untrusted",
        "duration_ms",
    ]
    list_select_related = ["csp"]
    list_filter = ["status_code", "error_code", "forwarded_header_untrusted"]
    search_fields = ["ip", "key_prefix", "path"]
    date_hierarchy = "created_at"
    show_full_result_count = False  # the table is large

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
