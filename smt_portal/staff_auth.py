"""Who may use the admin: the one rule, for the admin site and its tests."""

from django.conf import settings
from django.shortcuts import render


def staff_needs_second_factor(request):
    """True when the signed-in staff member must set up TOTP before any admin page.

    With ``STAFF_MFA_REQUIRED`` on, a staff member without an activated
    authenticator app is refused. One who has an app cannot have signed in
    without its code: allauth asks for it after the password.
    """
    if not settings.STAFF_MFA_REQUIRED:
        return False
    user = request.user
    if not (user.is_authenticated and user.is_staff):
        return False
    cached = getattr(request, "_staff_needs_second_factor", None)
    if cached is None:
        from allauth.mfa.models import Authenticator
        from allauth.mfa.utils import is_mfa_enabled

        cached = not is_mfa_enabled(user, [Authenticator.Type.TOTP])
        request._staff_needs_second_factor = cached
    return cached


def too_many_attempts(request):
    """allauth's answer when its rate limits refuse a request (``urls.handler429``)."""
    return render(request, "allauth/429.html", status=429)
