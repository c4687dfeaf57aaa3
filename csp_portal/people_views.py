"""/csp/ pages of people: home, invitations, users (admins), the record (admins).

Views are thin: the rules are in ``people_services`` and ``access``.
"""

from functools import wraps

from allauth.account.internal.flows.login import record_authentication
from allauth.account.utils import perform_login
from django import forms
from django.contrib.auth import get_user_model, password_validation
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST, require_safe

from smt_portal.actors import Actor
from smt_portal.client_ip import client_ip

from . import people_services as services
from .access import REFUSED_STATUS, csp_member_required, member_of
from .models import CspInvitation, CspMember, CspPortalEvent, CspRole

SESSION_INVITATION = "csp_invitation"
NOTICE = "csp_people_notice"


def _private(view=None, *, referrer_policy="same-origin"):
    """No caches, no search engines. Only the link view, whose URL carries the token,
    sends ``no-referrer``: with it browsers send ``Origin: null`` on a form POST,
    which CSRF protection rightly refuses (as ``affirmations.views.private``)."""

    def decorate(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            response = view(request, *args, **kwargs)
            response["Cache-Control"] = "no-store"
            response["Referrer-Policy"] = referrer_policy
            response["X-Robots-Tag"] = "noindex, nofollow"
            return response

        return wrapped

    return decorate(view) if view is not None else decorate


def _actor(request, csp=None):
    ip = client_ip(request)
    agent = request.headers.get("User-Agent", "")
    user = request.user
    if csp is not None and user.is_authenticated:
        return Actor.csp_user(csp, user, ip=ip, user_agent=agent)
    return Actor.customer(ip=ip, user_agent=agent, label="invited user")


def _notice(request, value=None):
    if value is not None:
        request.session[NOTICE] = value
        return value
    return request.session.pop(NOTICE, "")


# --- Home ----------------------------------------------------------------------------


@_private
@csp_member_required("home")
@require_safe
def home(request):
    csp = request.csp_member.csp
    return render(
        request,
        "csp_portal/people/home.html",
        {
            "member": request.csp_member,
            "csp": csp,
            "notice": REFUSED_STATUS.get(csp.status, ""),
            "reason": _status_reason(csp),
        },
    )


def _status_reason(csp):
    """Why the CSP is in its status now (a suspension's or revocation's reason)."""
    change = csp.status_changes.filter(to_status=csp.status).order_by("-pk").first()
    return change.reason if change is not None else ""


# --- Invitations ---------------------------------------------------------------------


@_private(referrer_policy="no-referrer")
@require_safe
def invitation_link(request, token):
    """``/csp/invitations/<token>/``: check the token, keep it in the session, redirect.
    A GET never accepts anything."""
    invitation = services.invitation_find(token=token)
    if not services.invitation_open(invitation, timezone.now()):
        return _invitation_closed(request)
    request.session.cycle_key()  # a planted session id never gains the invitation
    request.session[SESSION_INVITATION] = invitation.pk
    return redirect("csp_portal:invitation-accept")


def _invitation_closed(request):
    return render(request, "csp_portal/people/invitation_closed.html", status=404)


class NewAccountForm(forms.Form):
    password1 = forms.CharField(
        label="Password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    password2 = forms.CharField(
        label="The same password again",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def __init__(self, *args, email, **kwargs):
        super().__init__(*args, **kwargs)
        self.email = email

    def clean(self):
        data = super().clean()
        one, two = data.get("password1"), data.get("password2")
        if one and two and one != two:
            self.add_error("password2", "The two passwords differ.")
        elif one:
            user = get_user_model()(username=self.email, email=self.email)
            try:
                password_validation.validate_password(one, user)
            except forms.ValidationError as error:
                self.add_error("password1", error)
        return data


@_private
def invitation_accept(request):
    """The invitation kept in the session: a password for a new account, or
    (an account exists) sign in first, then accept."""
    now = timezone.now()
    pk = request.session.get(SESSION_INVITATION)
    invitation = CspInvitation.objects.select_related("csp").filter(pk=pk).first()
    if not services.invitation_open(invitation, now):
        return _invitation_closed(request)
    User = get_user_model()
    has_account = User.objects.filter(email__iexact=invitation.email).exists()
    user = request.user
    context = {"invitation": invitation, "role": CspRole(invitation.role).label}
    if user.is_authenticated:
        if user.email.lower() != invitation.email.lower():
            context["wrong_account"] = True
            return render(request, "csp_portal/people/invitation_accept.html", context)
        if request.method == "POST":
            try:
                services.invitation_accept(
                    invitation=invitation, user=user, now=now, actor=_actor(request)
                )
            except services.PeopleError as error:
                context["error"] = str(error)
                return render(request, "csp_portal/people/invitation_accept.html", context)
            request.session.pop(SESSION_INVITATION, None)
            return redirect("csp_portal:home")
        context["confirm"] = True
        return render(request, "csp_portal/people/invitation_accept.html", context)
    if has_account:
        context["sign_in_url"] = (
            f"{reverse('account_login')}?next={reverse('csp_portal:invitation-accept')}"
        )
        return render(request, "csp_portal/people/invitation_accept.html", context)
    form = NewAccountForm(request.POST or None, email=invitation.email)
    if request.method == "POST" and form.is_valid():
        try:
            new_user = services.invitation_accept_new_account(
                invitation=invitation,
                password=form.cleaned_data["password1"],
                now=now,
                actor=_actor(request),
            )
        except services.PeopleError as error:
            context["error"] = str(error)
        else:
            request.session.pop(SESSION_INVITATION, None)
            # Signed in with the new password; the portal then asks for an
            # authenticator app before any page (csp_portal.access).
            response = perform_login(
                request,
                new_user,
                email_verification="none",
                redirect_url=reverse("csp_portal:home"),
            )
            # Just authenticated by the password they chose: allauth lets the
            # authenticator app be set up now without asking for it again.
            record_authentication(
                request, new_user, method="password", email=new_user.email, reauthenticated=True
            )
            return response
    context["form"] = form
    return render(request, "csp_portal/people/invitation_accept.html", context)


# --- Users (admins) -------------------------------------------------------------------


class InviteForm(forms.Form):
    email = forms.EmailField(
        label="Email address", widget=forms.EmailInput(attrs={"autocomplete": "off"})
    )
    role = forms.ChoiceField(label="Role", choices=CspRole.choices)


@_private
@csp_member_required("manage")
@require_safe
def users(request):
    return _users_page(request, InviteForm())


def _users_page(request, form, error="", status=200):
    csp = request.csp_member.csp
    return render(
        request,
        "csp_portal/people/users.html",
        {
            "members": services.members_current(csp),
            "invitations": services.invitations_pending(csp, timezone.now()),
            "form": form,
            "roles": CspRole.choices,
            "me": request.csp_member,
            "error": error,
            "notice": _notice(request),
        },
        status=status,
    )


@_private
@csp_member_required("manage")
@require_POST
def user_invite(request):
    csp = request.csp_member.csp
    form = InviteForm(request.POST)
    if not form.is_valid():
        return _users_page(request, form, status=400)
    try:
        services.invitation_send(
            csp=csp,
            email=form.cleaned_data["email"],
            role=form.cleaned_data["role"],
            now=timezone.now(),
            actor=_actor(request, csp),
        )
    except services.PeopleError as error:
        return _users_page(request, form, error=str(error), status=400)
    _notice(request, f"Invitation sent to {form.cleaned_data['email']}; its link works for 7 days.")
    return redirect("csp_portal:users")


def _member(request, member_id):
    return get_object_or_404(
        CspMember.objects.select_related("user", "csp"),
        pk=member_id,
        csp=request.csp_member.csp,
        removed_at__isnull=True,
    )


@_private
@csp_member_required("manage")
@require_POST
def user_role(request, member_id):
    member = _member(request, member_id)
    try:
        services.member_role_change(
            member=member,
            role=request.POST.get("role", ""),
            now=timezone.now(),
            actor=_actor(request, member.csp),
        )
    except services.PeopleError as error:
        return _users_page(request, InviteForm(), error=str(error), status=400)
    _notice(request, f"{member.user.email} is now {request.POST.get('role')}.")
    return redirect("csp_portal:users")


@_private
@csp_member_required("manage")
@require_POST
def user_remove(request, member_id):
    member = _member(request, member_id)
    try:
        services.member_remove(member=member, now=timezone.now(), actor=_actor(request, member.csp))
    except services.PeopleError as error:
        return _users_page(request, InviteForm(), error=str(error), status=400)
    if member.user_id == request.user.pk:
        return redirect("csp_portal:home")  # refused from now on, with a page saying so
    _notice(request, f"{member.user.email} can no longer sign in to your portal.")
    return redirect("csp_portal:users")


@_private
@csp_member_required("manage")
@require_POST
def invitation_revoke(request, invitation_id):
    invitation = get_object_or_404(
        CspInvitation.objects.select_related("csp"),
        pk=invitation_id,
        csp=request.csp_member.csp,
    )
    try:
        services.invitation_revoke(
            invitation=invitation, now=timezone.now(), actor=_actor(request, invitation.csp)
        )
    except services.PeopleError as error:
        return _users_page(request, InviteForm(), error=str(error), status=400)
    _notice(request, f"The invitation of {invitation.email} is withdrawn.")
    return redirect("csp_portal:users")


# --- The record (admins) ----------------------------------------------------------------


@_private
@csp_member_required("manage")
@require_safe
def activity(request):
    events = (
        CspPortalEvent.objects.filter(csp=request.csp_member.csp)
        .select_related("user")
        .order_by("-at", "-pk")[:500]
    )
    rows = [{"event": e, "words": services.EVENT_WORDS.get(e.kind, e.kind)} for e in events]
    return render(request, "csp_portal/people/activity.html", {"rows": rows})


# --- Sign-ins (allauth's user_logged_in) ---------------------------------------------------


def on_user_logged_in(sender, request, user, **kwargs):
    membership = member_of(user)
    if membership is None:
        return
    actor = Actor.csp_user(
        membership.csp,
        user,
        ip=client_ip(request),
        user_agent=request.headers.get("User-Agent", ""),
    )
    services.member_signed_in_record(member=membership, now=timezone.now(), actor=actor)
