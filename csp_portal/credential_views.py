"""/csp/keys/ and /csp/webhooks/: a CSP's admins issue and revoke API keys and
register and delete webhook endpoints themselves.

A key's or an endpoint's secret exists only in the response to the POST that
created it: it is rendered on that page (``no-store``), never put in a
cookie, the session or a redirect's URL, and never recorded; the portal's
record of the change names the key by its prefix only. The rules are the
API's: ``csp_registry.services`` issues and revokes keys,
``webhooks.services`` registers endpoints (with its URL safety checks).
"""

import secrets
from datetime import UTC, datetime, time

from django import forms
from django.contrib import messages
from django.db import transaction
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_safe

from affirmations.views import private
from csp_registry import services as registry
from csp_registry.models import ApiKey, EventType
from smt_portal.actors import Actor
from smt_portal.client_ip import client_ip
from webhooks import services as webhooks
from webhooks.api.views import deliveries_of
from webhooks.models import WebhookEndpoint

from .access import csp_member_required
from .models import CspPortalEvent

MAX_ID = 2**63 - 1
RECENT_DELIVERIES = 20


def _record(request, kind, now, **details):
    """The portal's record of a change: who, when, from where; never a secret."""
    CspPortalEvent.objects.create(
        csp=request.csp_member.csp, user=request.user, kind=kind, at=now,
        ip=client_ip(request), details=details,
    )  # fmt: skip


def _actor(request):
    member = request.csp_member
    actor = Actor.csp(
        member.csp, ip=client_ip(request), user_agent=request.headers.get("User-Agent", "")[:500]
    )
    # The key's ``created_by`` is the person who issued it.
    return Actor(actor.type, actor.label, actor.ip, actor.user_agent, request.user)


def _check_id(value):
    if value > MAX_ID:
        raise Http404


# --- Forms sent once ---------------------------------------------------------------------

# A creation form carries a one-time value kept in the session: a reload of the
# "created" page (the browser sends the POST again) creates nothing a second time.
_ONCE_KEY = "csp_portal_forms_once"
_ONCE_KEPT = 20


def _once_issue(request):
    value = secrets.token_urlsafe(16)
    request.session[_ONCE_KEY] = [*request.session.get(_ONCE_KEY, [])[-(_ONCE_KEPT - 1) :], value]
    return value


def _once_take(request):
    """Whether the POST carries a value this session issued and has not used."""
    issued = request.session.get(_ONCE_KEY, [])
    value = request.POST.get("once", "")
    if value not in issued:
        return False
    request.session[_ONCE_KEY] = [kept for kept in issued if kept != value]
    return True


def _sent_twice(request, list_url, what):
    messages.warning(
        request,
        f"That form was already sent: the {what} was created once, and its secret is not "
        "shown again. Create another if you need it.",
    )
    return redirect(list_url, permanent=False)


# --- API keys --------------------------------------------------------------------------


class KeyForm(forms.Form):
    name = forms.CharField(
        label="Name", max_length=100, required=True,
        help_text="For people: what or who uses this key (for example, “billing server”).",
    )  # fmt: skip
    expires_on = forms.DateField(
        label="Expires on (optional)", required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="The key stops working at the start of this day (UTC). Leave empty for no end.",
    )  # fmt: skip
    sandbox = forms.BooleanField(
        label="Sandbox key (smt_test_…)", required=False,
        help_text="Acts only on the sandbox premises listed in the API docs: no real customer, "
        "no real email, answers scripted by the customer's address.",
    )  # fmt: skip

    def __init__(self, *args, now, **kwargs):
        super().__init__(*args, **kwargs)
        self.now = now

    def clean_expires_on(self):
        day = self.cleaned_data.get("expires_on")
        if day is None:
            return None
        expires_at = datetime.combine(day, time.min, tzinfo=UTC)
        if expires_at <= self.now:
            raise forms.ValidationError("Choose a day after today.")
        return expires_at


def _keys_of(csp):
    return ApiKey.objects.filter(csp=csp).order_by("-created_at", "-pk")


@csp_member_required("manage")
@private
@require_safe
def keys_list(request):
    csp = request.csp_member.csp
    now = timezone.now()
    keys = list(_keys_of(csp))
    for key in keys:
        key.usable = key.usable_at(now)
    return render(request, "csp_portal/credentials/keys.html", {"csp": csp, "keys": keys})


@csp_member_required("manage")
@private
@require_http_methods(["GET", "HEAD", "POST"])
def key_create(request):
    csp = request.csp_member.csp
    now = timezone.now()
    form = KeyForm(request.POST or None, now=now)
    if request.method == "POST" and not _once_take(request):
        return _sent_twice(request, "csp_portal:keys", "key")
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            api_key, full_key = registry.csp_issue_key(
                csp=csp, now=now, name=form.cleaned_data["name"],
                expires_at=form.cleaned_data["expires_on"], actor=_actor(request),
                sandbox=form.cleaned_data["sandbox"],
            )  # fmt: skip
            _record(request, "api_key_created", now, prefix=api_key.prefix, name=api_key.name,
                    sandbox=api_key.sandbox)  # fmt: skip
        # The one and only time the key exists: on this page, not stored anywhere.
        return render(request, "csp_portal/credentials/key_created.html", {
            "api_key": api_key, "full_key": full_key,
        }, status=201)  # fmt: skip
    return render(request, "csp_portal/credentials/key_form.html",
                  {"form": form, "once": _once_issue(request)})  # fmt: skip


@csp_member_required("manage")
@private
@require_http_methods(["GET", "HEAD", "POST"])
def key_revoke(request, key_id):
    _check_id(key_id)
    api_key = get_object_or_404(_keys_of(request.csp_member.csp), pk=key_id)
    if request.method == "POST":
        now = timezone.now()
        with transaction.atomic():
            revoked = registry.csp_revoke_key(api_key=api_key, now=now)
            if revoked:
                _record(request, "api_key_revoked", now, prefix=api_key.prefix)
        messages.success(
            request,
            f"Key smt_{api_key.prefix}… is revoked: it no longer works."
            if revoked
            else f"Key smt_{api_key.prefix}… was already revoked.",
        )
        return redirect("csp_portal:keys")
    return render(request, "csp_portal/credentials/key_revoke.html", {"api_key": api_key})


# --- Webhook endpoints -----------------------------------------------------------------


class EndpointForm(forms.Form):
    url = forms.CharField(
        label="URL", max_length=2000,
        help_text="https:// on a public host. Redirects are not followed.",
        widget=forms.URLInput(attrs={"inputmode": "url", "autocomplete": "url"}),
    )  # fmt: skip
    events = forms.MultipleChoiceField(
        label="Events", choices=EventType.choices, widget=forms.CheckboxSelectMultiple,
        help_text="The events sent to this URL.",
    )  # fmt: skip


def _endpoints_of(csp):
    return WebhookEndpoint.objects.filter(csp=csp, deleted_at=None).order_by("pk")


@csp_member_required("manage")
@private
@require_safe
def webhooks_list(request):
    csp = request.csp_member.csp
    return render(
        request, "csp_portal/credentials/webhooks.html", {"endpoints": _endpoints_of(csp)}
    )


@csp_member_required("manage")
@private
@require_http_methods(["GET", "HEAD", "POST"])
def webhook_create(request):
    csp = request.csp_member.csp
    form = EndpointForm(request.POST or None)
    if request.method == "POST" and not _once_take(request):
        return _sent_twice(request, "csp_portal:webhooks", "webhook endpoint")
    if request.method == "POST" and form.is_valid():
        now = timezone.now()
        try:
            with transaction.atomic():
                endpoint, secret = webhooks.endpoint_create(
                    csp=csp, url=form.cleaned_data["url"],
                    event_types=list(form.cleaned_data["events"]), now=now,
                )  # fmt: skip
                _record(request, "webhook_created", now, endpoint=endpoint.pk, url=endpoint.url)
        except webhooks.EndpointInvalid as exc:
            for field, errors in exc.fields.items():
                for error in errors:
                    form.add_error(field if field in form.fields else None, error)
        else:
            return render(request, "csp_portal/credentials/webhook_created.html", {
                "endpoint": endpoint, "secret": secret,
            }, status=201)  # fmt: skip
    return render(request, "csp_portal/credentials/webhook_form.html",
                  {"form": form, "once": _once_issue(request)})  # fmt: skip


@csp_member_required("manage")
@private
@require_safe
def webhook_detail(request, endpoint_id):
    _check_id(endpoint_id)
    endpoint = get_object_or_404(
        WebhookEndpoint.objects.filter(csp=request.csp_member.csp), pk=endpoint_id
    )
    deliveries = deliveries_of(endpoint.pk).order_by("-pk")[:RECENT_DELIVERIES]
    return render(request, "csp_portal/credentials/webhook.html", {
        "endpoint": endpoint, "deliveries": deliveries,
    })  # fmt: skip


@csp_member_required("manage")
@private
@require_http_methods(["GET", "HEAD", "POST"])
def webhook_delete(request, endpoint_id):
    _check_id(endpoint_id)
    endpoint = get_object_or_404(_endpoints_of(request.csp_member.csp), pk=endpoint_id)
    if request.method == "POST":
        now = timezone.now()
        with transaction.atomic():
            if webhooks.endpoint_delete(endpoint=endpoint, now=now):
                _record(request, "webhook_deleted", now, endpoint=endpoint.pk, url=endpoint.url)
        messages.success(request, f"Nothing more is sent to {endpoint.url}.")
        return redirect("csp_portal:webhooks")
    return render(request, "csp_portal/credentials/webhook_delete.html", {"endpoint": endpoint})
