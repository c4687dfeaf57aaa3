"""The admin site: staff sign in through allauth, with a second factor when required."""

from django.contrib.admin import AdminSite
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from .staff_auth import staff_needs_second_factor


class PortalAdminSite(AdminSite):
    def has_permission(self, request):
        return super().has_permission(request) and not staff_needs_second_factor(request)

    def login(self, request, extra_context=None):
        """Route, never authenticate: allauth's sign-in rate-limits every attempt
        and asks for the TOTP code; a password posted here is ignored."""
        next_url = self._next_url(request)
        user = request.user
        if not user.is_authenticated:
            return redirect_to_login(next_url, login_url=reverse("account_login"))
        if not (user.is_active and user.is_staff):
            raise PermissionDenied
        if staff_needs_second_factor(request):
            return redirect("mfa_activate_totp")
        return HttpResponseRedirect(next_url)

    def _next_url(self, request):
        next_url = request.GET.get(REDIRECT_FIELD_NAME, "")
        if url_has_allowed_host_and_scheme(
            next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            return next_url
        return reverse("admin:index", current_app=self.name)
