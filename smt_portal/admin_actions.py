"""What admin actions share: the permission each declares, and the intermediate
page of those that ask staff for a reason."""

from django import forms
from django.contrib import admin
from django.template.response import TemplateResponse

from smt_portal.actors import Actor
from smt_portal.client_ip import client_ip


class ReasonForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}))

    def __init__(self, *args, reason_required=True, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reason"].required = reason_required


def reason_form(request, *, reason_required=True):
    """Bound once staff press "apply" on the intermediate page, unbound before."""
    data = request.POST if "apply" in request.POST else None
    return ReasonForm(data, reason_required=reason_required)


def reason_page(modeladmin, request, queryset, *, title, form, explanation="", notice=""):
    """The page that asks for the reason, listing the selected rows.

    ``explanation`` says what the action does; ``notice`` who else reads the
    reason ("and sent to the CSP in its suspension notice")."""
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "explanation": explanation,
        "notice": notice,
        "form": form,
        "queryset": queryset,
        "action": request.POST["action"],
        "opts": modeladmin.model._meta,
        "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
    }
    return TemplateResponse(request, "admin/reason_action.html", context)


def permission_check(permission):
    """A ``has_<name>_permission`` method for a ``ModelAdmin``: the user holds ``permission``.

    Every action declares ``@admin.action(permissions=["<name>"])`` and every
    custom view calls the same method, so one dotted name (granted to roles in
    ``monitoring/seed.py``) decides who sees and who runs it.
    """

    def has_permission(modeladmin, request, obj=None):
        return request.user.has_perm(permission)

    has_permission.permission = permission
    return has_permission


def staff_actor(request):
    """The staff member acting in the admin, as the record and the services name them."""
    return Actor.staff(
        request.user, ip=client_ip(request), user_agent=request.headers.get("User-Agent", "")[:500]
    )
