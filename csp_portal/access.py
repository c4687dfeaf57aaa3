"""Who may do what in /csp/: a signed-in member of an approved CSP, with a second
factor, in a role that allows it. The one rule for every view of the portal."""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render

from csp_registry.models import CspStatus

from .models import CspRole

CSP_LOGIN_URL = "/account/login/"

REFUSED = "Your role in this provider's portal does not allow this."

# What each role may do; views name the capability they need.
CAPABILITIES = {
    "read": {CspRole.ADMIN, CspRole.AGENT, CspRole.VIEWER},
    "request": {CspRole.ADMIN, CspRole.AGENT},
    "manage": {CspRole.ADMIN},  # users, API keys, webhook endpoints
    "home": {CspRole.ADMIN, CspRole.AGENT, CspRole.VIEWER},  # the status and notice
}

# What each capability needs of the CSP's status: a suspended CSP reads (its
# agreements, the notice) but starts nothing; a revoked one sees its home only.
STATUSES = {
    "read": {CspStatus.ACTIVE, CspStatus.SUSPENDED},
    "request": {CspStatus.ACTIVE},
    "manage": {CspStatus.ACTIVE},
    "home": {CspStatus.ACTIVE, CspStatus.SUSPENDED, CspStatus.REVOKED, CspStatus.PENDING_REVIEW},
}

REFUSED_STATUS = {
    CspStatus.SUSPENDED: "Your provider is suspended: you can read its agreements and the notice, "
    "but start nothing (no request, no change to users, keys or webhooks) until it is reinstated.",
    CspStatus.REVOKED: "Your provider's registration is revoked: only the portal's home page "
    "and the notice remain.",
    CspStatus.PENDING_REVIEW: "Your provider's application is still under review.",
}


def member_of(user):
    """The user's current membership, or None."""
    membership = getattr(user, "csp_membership", None) if user.is_authenticated else None
    if membership is None or membership.removed_at is not None:
        return None
    return membership


def csp_member_required(capability="read"):
    """Signed in as a current member whose role has ``capability``; the view gets
    ``request.csp_member``. A member without an activated authenticator app is
    sent to set one up first (then allauth asks for its code at every sign-in);
    a capability the CSP's status does not allow is refused with a page saying why."""

    def decorate(view):
        @login_required(login_url=CSP_LOGIN_URL)
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            membership = member_of(request.user)
            if membership is None:
                return _refused(request, "You are not a user of a provider's portal.")
            if member_needs_second_factor(request):
                return redirect("mfa_activate_totp")
            if membership.role not in CAPABILITIES[capability]:
                return _refused(request, REFUSED, membership)
            if membership.csp.status not in STATUSES[capability]:
                return _refused(request, REFUSED_STATUS[membership.csp.status], membership)
            request.csp_member = membership
            return view(request, *args, **kwargs)

        wrapped.csp_capability = capability  # read by the table test of every route
        return wrapped

    return decorate


def member_needs_second_factor(request):
    """True while the signed-in member has no activated authenticator app (TOTP):
    required for every member, whatever STAFF_MFA_REQUIRED says."""
    cached = getattr(request, "_csp_member_needs_second_factor", None)
    if cached is None:
        from allauth.mfa.models import Authenticator
        from allauth.mfa.utils import is_mfa_enabled

        cached = not is_mfa_enabled(request.user, [Authenticator.Type.TOTP])
        request._csp_member_needs_second_factor = cached
    return cached


def _refused(request, message, membership=None):
    return render(
        request,
        "csp_portal/people/refused.html",
        {"message": message, "member": membership},
        status=403,
    )
