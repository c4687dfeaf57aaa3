"""Sign-up and sign-in pages around django-allauth's (mounted at /account/ by
smt_portal/urls.py): the forms fitted to the portal, the receivers that record
what happened to an account, and the account-deletion page."""

from allauth.account import signals
from allauth.account.decorators import reauthentication_required
from allauth.account.forms import LoginForm, RequestLoginCodeForm, ResetPasswordForm
from django import forms
from django.contrib.auth import logout
from django.http import HttpResponseRedirect
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods

from affirmations.views import private
from smt_portal.actors import Actor
from smt_portal.client_ip import client_ip

from . import auth_services
from .access import customer_required


def _actor(request):
    return Actor.customer(ip=client_ip(request), user_agent=request.META.get("HTTP_USER_AGENT", ""))


# --- Forms (settings.ACCOUNT_FORMS) ------------------------------------------------------


class PortalLoginForm(LoginForm):
    """One field for both: a customer's email address or a staff member's username."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["login"]
        field.label = _("Email address or username")
        field.widget.attrs.pop("placeholder", None)
        field.widget.attrs["autocomplete"] = "username"


class CustomerLoginCodeForm(RequestLoginCodeForm):
    """Code sign-in is for customers: a staff member's address is answered as
    an unknown one (staff sign in with username, password and TOTP)."""

    def clean_email(self):
        email = super().clean_email()
        if getattr(self, "_user", None) is not None and self._user.is_staff:
            self._user = None
        return email


class CustomerPasswordResetForm(ResetPasswordForm):
    """Password reset by email is for customers; staff passwords are reset by
    an administrator. The page answers alike either way."""

    def clean_email(self):
        email = super().clean_email()
        self.users = [user for user in self.users if not user.is_staff]
        return email


# --- What happened to an account (allauth's signals) ------------------------------------


def _on_signed_up(sender, request, user, **kwargs):
    auth_services.account_signed_up(user=user, actor=_actor(request), now=timezone.now())


def _on_email_changed(sender, request, user, from_email_address, to_email_address, **kwargs):
    if from_email_address is None:  # the first address, proven at sign-up
        return
    auth_services.account_email_changed(
        user=user,
        from_email=from_email_address.email,
        to_email=to_email_address.email,
        actor=_actor(request),
        now=timezone.now(),
    )


def _on_logged_out(sender, request, user, **kwargs):
    # After a deletion the user is gone (no pk): the deletion is its record.
    if user is not None and user.pk is not None and not user.is_staff:
        auth_services.account_signed_out(user=user, actor=_actor(request), now=timezone.now())


def _on_password_reset(sender, request, user, **kwargs):
    if not user.is_staff:
        auth_services.account_password_reset(user=user, actor=_actor(request), now=timezone.now())


def signals_connect():
    """Called once from AccountsConfig.ready()."""
    uid = "accounts.auth_views"
    signals.user_signed_up.connect(_on_signed_up, dispatch_uid=f"{uid}.signed_up")
    signals.email_changed.connect(_on_email_changed, dispatch_uid=f"{uid}.email_changed")
    signals.user_logged_out.connect(_on_logged_out, dispatch_uid=f"{uid}.logged_out")
    signals.password_reset.connect(_on_password_reset, dispatch_uid=f"{uid}.password_reset")


# --- Deleting the account ----------------------------------------------------------------


class DeleteAccountForm(forms.Form):
    confirm = forms.BooleanField(
        label=_("I understand: my account and its sign-in are deleted, and cannot be restored."),
    )


@private
@customer_required
@require_http_methods(["GET", "POST"])
def account_delete(request):
    """Sign in again (allauth's reauthentication), confirm, then one POST."""
    if request.user.is_staff:
        return render(request, "account/delete_staff.html", status=403)
    return _account_delete_confirmed(request)


@reauthentication_required
def _account_delete_confirmed(request):
    form = DeleteAccountForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        auth_services.account_delete(user=request.user, actor=_actor(request), now=timezone.now())
        logout(request)
        return redirect("accounts:deleted")
    return render(request, "account/delete.html", {"form": form})


@private
def account_deleted(request):
    return render(request, "account/deleted.html")


# --- The staff sign-in's former address --------------------------------------------------


def moved_to_account(request, rest):
    """/accounts/… (the staff sign-in's address until customers joined) is now /account/…."""
    target = f"/account/{rest}"
    if request.META.get("QUERY_STRING"):
        target += "?" + request.META["QUERY_STRING"]
    return HttpResponseRedirect(target)
