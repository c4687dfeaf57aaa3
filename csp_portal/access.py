"""Who may do what in /csp/: a signed-in member of an approved CSP, with a second
factor, in a role that allows it. The one rule for every view of the portal."""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.http import HttpResponseForbidden

from .models import CspRole

CSP_LOGIN_URL = "/account/login/"

REFUSED = "Your role in this provider's portal does not allow this."

# What each role may do; views name the capability they need.
CAPABILITIES = {
    "read": {CspRole.ADMIN, CspRole.AGENT, CspRole.VIEWER},
    "request": {CspRole.ADMIN, CspRole.AGENT},
    "manage": {CspRole.ADMIN},  # users, API keys, webhook endpoints
}


def member_of(user):
    """The user's current membership, or None."""
    membership = getattr(user, "csp_membership", None) if user.is_authenticated else None
    if membership is None or membership.removed_at is not None:
        return None
    return membership


def csp_member_required(capability="read"):
    """Signed in as a current member whose role has ``capability``; the view gets
    ``request.csp_member``. (The second factor is enforced by the sign-in itself.)"""

    def decorate(view):
        @login_required(login_url=CSP_LOGIN_URL)
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            membership = member_of(request.user)
            if membership is None or membership.role not in CAPABILITIES[capability]:
                return HttpResponseForbidden(
                    "Your role in this provider's portal does not allow this."
                )
            request.csp_member = membership
            return view(request, *args, **kwargs)

        return wrapped

    return decorate
