"""Staff views of agreements, disclosures and the record.

Agreements change only through the services (the API, the customer pages,
the sweeps); here they are read-only but for one action, revoking a single
agreement (``revoke_agreement``, the management committee's). Records can be neither added,
changed nor deleted, only read (``view_record``) and exported
(``export_record``: the actions and the export page). An agreement shows the
customer's full email address: only roles granted ``view_agreement`` see it.
A published disclosure version is never edited: staff add a new version.
"""

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone

from premises.identifiers import InvalidIdentifier, normalize_esi_id
from smt_portal.admin_actions import permission_check, reason_form, reason_page, staff_actor

from . import services
from .checkpoints import CheckpointKeyMissing, record_checkpoint_seal
from .exports import records_csv, records_for, records_json
from .holidays import holiday_add, holiday_remove
from .models import (
    Agreement,
    AgreementPremise,
    Disclosure,
    EndedBy,
    Holiday,
    Record,
    RecordCheckpoint,
)


class ReadOnlyMixin:
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def export_response(records, fmt, filename):
    if fmt == "json":
        response = StreamingHttpResponse(records_json(records), content_type="application/json")
    else:
        response = StreamingHttpResponse(records_csv(records), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="{filename}.{fmt}"'
    return response


class AgreementPremiseInline(ReadOnlyMixin, admin.TabularInline):
    model = AgreementPremise
    fields = ("esi_id", "service_address", "large_commercial", "is_open")
    readonly_fields = fields
    extra = 0


class AgreementRecordInline(ReadOnlyMixin, admin.TabularInline):
    model = Record
    fields = ("id", "created_at", "event", "actor_type", "actor", "ip", "details")
    readonly_fields = fields
    extra = 0
    ordering = ("id",)


def _export_agreements(fmt):
    @admin.action(
        description=f"Export records of selected agreements ({fmt.upper()})",
        permissions=["export"],
    )
    def action(modeladmin, request, queryset):
        records = records_for().filter(agreement__in=queryset.values("pk"))
        return export_response(records, fmt, f"agreement-records-{timezone.now():%Y%m%d%H%M%S}")

    action.__name__ = f"export_records_{fmt}"
    return action


@admin.action(description="Revoke selected agreements (the CSP is told)", permissions=["revoke"])
def revoke_agreements(modeladmin, request, queryset):
    """Glossary: staff may revoke a single agreement, with a reason, without acting
    against the CSP; the CSP learns it as ``agreement.revoked``."""
    form = reason_form(request)
    if not form.is_valid():
        return reason_page(
            modeladmin, request, queryset, title="Revoke agreements", form=form,
            explanation="each ends at once, its customer is emailed if data was flowing, and its "
            "CSP is told (agreement.revoked). The CSP itself is not acted against",
        )  # fmt: skip
    now, revoked, refused = timezone.now(), 0, []
    actor = staff_actor(request)
    for agreement in queryset:
        try:
            services.agreement_terminate(
                agreement=agreement, ended_by=EndedBy.COMMITTEE,
                reason=form.cleaned_data["reason"], actor=actor, now=now,
            )  # fmt: skip
            revoked += 1
        except services.AgreementNotOpen as exc:
            refused.append(f"#{agreement.pk}: {exc}")
    if refused:
        modeladmin.message_user(request, "Not revoked: " + "; ".join(refused), messages.ERROR)
    if revoked:
        modeladmin.message_user(request, f"{revoked} agreement(s) revoked.", messages.SUCCESS)
    return None


@admin.register(Agreement)
class AgreementAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("id", "csp", "status", "term_months", "confirmation_code", "created_at",
                    "affirmation_expires_at", "term_end")  # fmt: skip
    list_filter = ("status", "language", "ended_by")
    list_select_related = ("csp",)
    search_fields = ("=id", "=confirmation_code", "=premises__esi_id", "customer_email")
    raw_id_fields = ("csp", "disclosure")
    date_hierarchy = "created_at"
    inlines = [AgreementPremiseInline, AgreementRecordInline]
    actions = [_export_agreements("csv"), _export_agreements("json"), revoke_agreements]
    has_export_permission = permission_check("affirmations.export_record")
    has_revoke_permission = permission_check("affirmations.revoke_agreement")


@admin.register(Disclosure)
class DisclosureAdmin(admin.ModelAdmin):
    list_display = ("version", "published_at", "created_by")
    fields = ("version", "text_en", "text_es", "published_at", "created_by")
    readonly_fields = ("published_at", "created_by")

    def get_readonly_fields(self, request, obj=None):
        # A published version may have been acknowledged: never edited.
        if obj is not None:
            return self.fields
        return self.readonly_fields

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        if change:
            return
        published = services.disclosure_publish(
            version=obj.version, text_en=obj.text_en, text_es=obj.text_es,
            actor=staff_actor(request),
            now=timezone.now(),
        )  # fmt: skip
        obj.pk, obj.published_at, obj.created_by = (
            published.pk,
            published.published_at,
            request.user,
        )


class RecordExportForm(forms.Form):
    agreement = forms.IntegerField(required=False, min_value=1, label="Agreement id")
    esi_id = forms.CharField(required=False, label="ESI ID")
    csp = forms.IntegerField(required=False, min_value=1, label="CSP id")
    format = forms.ChoiceField(choices=[("csv", "CSV"), ("json", "JSON")])

    def clean_esi_id(self):
        value = self.cleaned_data["esi_id"]
        if not value:
            return ""
        try:
            return normalize_esi_id(value)
        except InvalidIdentifier as exc:
            raise forms.ValidationError(str(exc)) from None

    def clean(self):
        data = super().clean()
        chosen = [name for name in ("agreement", "esi_id", "csp") if data.get(name)]
        if len(chosen) != 1:
            raise forms.ValidationError("Give exactly one of: agreement id, ESI ID, CSP id.")
        return data


def _export_selected(fmt):
    @admin.action(description=f"Export selected records ({fmt.upper()})", permissions=["export"])
    def action(modeladmin, request, queryset):
        return export_response(queryset.order_by("id"), fmt, "records")

    action.__name__ = f"export_selected_{fmt}"
    return action


@admin.register(Record)
class RecordAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("id", "created_at", "event", "agreement_id", "csp_id", "actor_type", "actor")
    list_filter = ("event", "actor_type")
    search_fields = ("=agreement__id", "=csp__id", "=agreement__premises__esi_id")
    raw_id_fields = ("agreement", "csp")
    actions = [_export_selected("csv"), _export_selected("json")]
    show_full_result_count = False  # a COUNT over millions of rows on every page
    has_export_permission = permission_check("affirmations.export_record")

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "can_export": self.has_export_permission(request)}
        return super().changelist_view(request, extra_context)

    def get_urls(self):
        export = path(
            "export/",
            self.admin_site.admin_view(self.export_view),
            name="affirmations_record_export",
        )
        return [export, *super().get_urls()]

    def export_view(self, request):
        """Export the records of one agreement, one ESI ID or one CSP."""
        if not self.has_export_permission(request):
            raise PermissionDenied
        form = RecordExportForm(request.GET if request.GET else None)
        if form.is_bound and form.is_valid():
            data = form.cleaned_data
            records = records_for(
                agreement_id=data["agreement"], esi_id=data["esi_id"], csp_id=data["csp"]
            )
            label = next(f"{n}-{data[n]}" for n in ("agreement", "esi_id", "csp") if data[n])
            return export_response(records, data["format"], f"records-{label}")
        context = {
            **self.admin_site.each_context(request),
            "title": "Export records",
            "form": form,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/affirmations/record/export.html", context)


@admin.register(RecordCheckpoint)
class RecordCheckpointAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """The signed checkpoints of the record (issue 16), read-only. The copies
    that count are outside the database (the checkpoint file, the committee's
    mailbox); ``seal_recordcheckpoint`` seals one now, beside the periodic job."""

    list_display = ("id", "sealed_at", "chain_count", "filed_at")
    fields = ("sealed_at", "heads", "line", "filed_at")
    has_seal_permission = permission_check("affirmations.seal_recordcheckpoint")

    @admin.display(description="chains")
    def chain_count(self, checkpoint):
        return len(checkpoint.heads)

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "can_seal": self.has_seal_permission(request)}
        return super().changelist_view(request, extra_context)

    def get_urls(self):
        seal = path(
            "seal/",
            self.admin_site.admin_view(self.seal_view),
            name="affirmations_recordcheckpoint_seal",
        )
        return [seal, *super().get_urls()]

    def seal_view(self, request):
        if not self.has_seal_permission(request):
            raise PermissionDenied
        if request.method == "POST":
            try:
                checkpoint = record_checkpoint_seal(now=timezone.now())
            except CheckpointKeyMissing as exc:
                self.message_user(request, str(exc), messages.ERROR)
            else:
                self.message_user(
                    request, f"Checkpoint #{checkpoint.pk} sealed and filed.", messages.SUCCESS
                )
            return HttpResponseRedirect(reverse("admin:affirmations_recordcheckpoint_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "title": "Seal a checkpoint of the record",
            "committee_email": settings.COMMITTEE_EMAIL,
            "last": RecordCheckpoint.objects.first(),
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/affirmations/recordcheckpoint/seal.html", context)


@admin.action(description="Remove selected holidays", permissions=["manage"])
def remove_holidays(modeladmin, request, queryset):
    now, removed = timezone.now(), 0
    for holiday in queryset:
        removed += holiday_remove(holiday=holiday, actor=staff_actor(request), now=now)
    modeladmin.message_user(request, f"{removed} holiday(s) removed.", messages.SUCCESS)


@admin.register(Holiday)
class HolidayAdmin(admin.ModelAdmin):
    """The holidays the five-weekday rule skips, beside ``AFFIRMATION_HOLIDAYS``.

    Adding one (``manage_holiday``) changes every deadline computed afterwards,
    none already sent; a holiday is removed by the action, never edited. Each
    change is written to the record with who made it."""

    list_display = ("day", "weekday", "name", "created_at", "created_by")
    fields = ("day", "name")
    actions = [remove_holidays]
    has_manage_permission = permission_check("affirmations.manage_holiday")

    @admin.display(description="weekday")
    def weekday(self, holiday):
        return f"{holiday.day:%A}"

    def has_add_permission(self, request):
        return self.has_manage_permission(request)

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # removed by the action, which records who did it

    def save_model(self, request, obj, form, change):
        saved = holiday_add(
            day=obj.day, name=obj.name, actor=staff_actor(request), now=timezone.now(),
            user=request.user,
        )  # fmt: skip
        obj.pk, obj.created_at, obj.created_by = saved.pk, saved.created_at, saved.created_by
