"""The people of a CSP's portal: the first admin invited on approval, sign-in with a
required second factor, roles over every route of /csp/, the users page, the record.

Emails are read from the outbox and opened as the sender opens them (``tokens_in``).
"""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import URLPattern, URLResolver, reverse

import csp_portal.urls
from csp_portal import people_services
from csp_portal.models import CspInvitation, CspMember, CspPortalEvent, CspRole
from csp_registry.models import CspStatus
from csp_registry.services import csp_approve, csp_suspend
from outbox.models import OutboundEmail
from smt_portal.actors import Actor
from smt_portal.sealed_tokens import token_hash, tokens_in
from tests import factories
from tests.csp_portal.conftest import PASSWORD, make_member, make_user, portal_client

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock")]
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=ZoneInfo("America/Chicago"))
CONTACT = "founder@new-meters.example"


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def staff(db):
    return get_user_model().objects.create_user(username="reviewer", is_staff=True)


def code_at(secret, moment):
    return format_hotp_value(hotp_value(secret, int(moment.timestamp()) // 30))


def invitation_emails(address):
    return list(OutboundEmail.objects.filter(kind="csp_invitation", to_address=address))


def invitation_path(email):
    [token] = tokens_in(email.body_text)
    return f"/csp/invitations/{token}/", token


def invite(csp, email="agent@new-meters.example", role=CspRole.AGENT, now=NOW):
    people_services.invitation_send(
        csp=csp, email=email, role=role, now=now, actor=Actor.system("test")
    )
    return invitation_path(invitation_emails(email)[-1])


def signed_in_user(client):
    return client.session.get("_auth_user_id")


# --- From approval to the portal ------------------------------------------------------------


def test_approval_invites_the_contact_as_first_admin_who_needs_a_password_and_a_second_factor(
    clock, staff
):
    csp = factories.make_csp(
        legal_name="New Meters Co", contact_email=CONTACT, status=CspStatus.PENDING_REVIEW
    )

    csp_approve(csp=csp, now=NOW, actor=Actor.staff(staff))

    [email] = invitation_emails(CONTACT)
    path, token = invitation_path(email)
    [invitation] = CspInvitation.objects.filter(csp=csp)
    assert (invitation.role, invitation.email) == (CspRole.ADMIN, CONTACT)
    assert invitation.token_hash == token_hash(token)
    assert invitation.expires_at == NOW + timedelta(days=7)
    assert token not in email.body_text + email.body_html  # sealed in the outbox
    assert email.deliver_until == invitation.expires_at

    client = Client()
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"] == reverse("csp_portal:invitation-accept")
    assert not CspMember.objects.exists()  # a GET never accepts
    assert CspInvitation.objects.get().accepted_at is None

    page = client.get(response["Location"])
    assert page.status_code == 200 and b"New Meters Co" in page.content
    response = client.post(
        reverse("csp_portal:invitation-accept"), {"password1": PASSWORD, "password2": PASSWORD}
    )
    member = CspMember.objects.get()
    assert (member.csp, member.role, member.user.email) == (csp, CspRole.ADMIN, CONTACT)
    assert signed_in_user(client) == str(member.user.pk)
    assert response["Location"] == reverse("csp_portal:home")

    # No portal page before an authenticator app is activated.
    for name in ("csp_portal:home", "csp_portal:users", "csp_portal:activity"):
        assert client.get(reverse(name))["Location"] == reverse("mfa_activate_totp")
    activate = client.get(reverse("mfa_activate_totp"))
    assert activate.status_code == 200, (activate.status_code, activate.get("Location"))
    form = activate.context["form"]
    client.post(reverse("mfa_activate_totp"), {"code": code_at(form.secret, NOW)})

    home = client.get(reverse("csp_portal:home"))
    assert home.status_code == 200
    assert b"New Meters Co" in home.content and b"Active" in home.content

    # Next time: password, then the app's code, then the portal; the sign-in is recorded.
    client.post(reverse("account_logout"))
    clock.shift(60)
    response = client.post(reverse("account_login"), {"login": CONTACT, "password": PASSWORD})
    assert response["Location"] == reverse("mfa_authenticate")
    assert signed_in_user(client) is None
    response = client.post(
        reverse("mfa_authenticate"),
        {"code": code_at(form.secret, NOW + timedelta(seconds=60))},
        REMOTE_ADDR="198.51.100.7",
    )
    assert response["Location"] == reverse("csp_portal:home")
    kinds = list(
        CspPortalEvent.objects.filter(csp=csp).order_by("pk").values_list("kind", flat=True)
    )
    # Signed in on accepting (with the new password), then with password and code.
    assert kinds == ["invitation_sent", "invitation_accepted", "signed_in", "signed_in"]
    signed_in = CspPortalEvent.objects.filter(kind="signed_in").latest("pk")
    assert (signed_in.user, signed_in.ip) == (member.user, "198.51.100.7")
    assert signed_in.details == {"email": "f***@new-meters.example"}


def test_an_invitation_to_an_address_with_an_account_asks_to_sign_in_then_accept(active_csp):
    user = make_user("agent@new-meters.example")
    path, _ = invite(active_csp)
    client = Client()
    page = client.get(client.get(path)["Location"])
    assert b"Sign in" in page.content and b"password1" not in page.content

    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    assert client.get(reverse("csp_portal:invitation-accept")).status_code == 200
    assert not CspMember.objects.exists()
    response = client.post(reverse("csp_portal:invitation-accept"))

    assert response["Location"] == reverse("csp_portal:home")
    assert CspMember.objects.get().role == CspRole.AGENT


def test_an_invitation_opened_by_another_signed_in_account_makes_no_member(active_csp):
    other = make_user("someone.else@example.com")
    path, _ = invite(active_csp)
    client = Client()
    client.force_login(other, backend="django.contrib.auth.backends.ModelBackend")
    client.get(path)

    page = client.post(reverse("csp_portal:invitation-accept"))

    assert b"another account" in page.content
    assert not CspMember.objects.exists()


# --- Invitations that no longer open ------------------------------------------------------


def test_an_expired_invitation_is_refused(active_csp):
    path, _ = invite(active_csp, now=NOW)
    with time_machine.travel(NOW + timedelta(days=7, seconds=1), tick=False):
        response = Client().get(path)
    assert response.status_code == 404
    assert b"cannot be used" in response.content


def test_a_used_invitation_is_refused(active_csp):
    path, _ = invite(active_csp)
    client = Client()
    client.get(path)
    client.post(
        reverse("csp_portal:invitation-accept"), {"password1": PASSWORD, "password2": PASSWORD}
    )
    assert CspMember.objects.count() == 1

    assert Client().get(path).status_code == 404


def test_a_revoked_invitation_is_refused_even_once_in_the_session(active_csp):
    path, _ = invite(active_csp)
    client = Client()
    client.get(path)
    invitation = CspInvitation.objects.get()
    people_services.invitation_revoke(invitation=invitation, now=NOW, actor=Actor.system("t"))

    response = client.post(
        reverse("csp_portal:invitation-accept"), {"password1": PASSWORD, "password2": PASSWORD}
    )

    assert response.status_code == 404
    assert Client().get(path).status_code == 404
    assert not CspMember.objects.exists()


def test_an_unknown_token_is_refused():
    assert Client().get("/csp/invitations/not-a-real-token/").status_code == 404


def test_a_new_invitation_of_the_same_address_replaces_the_pending_one(active_csp):
    first, _ = invite(active_csp)
    second, _ = invite(active_csp)

    assert Client().get(first).status_code == 404
    assert Client().get(second).status_code == 302


# --- Roles × every route of /csp/ ------------------------------------------------------------

# Who may use each capability (csp_portal.access), said once more here on purpose.
ALLOWED = {
    "home": {"admin", "agent", "viewer"},
    "read": {"admin", "agent", "viewer"},
    "request": {"admin", "agent"},
    "manage": {"admin"},
}
# What each capability needs of the CSP's status.
STATUSES = {
    "home": {"active", "suspended", "revoked"},
    "read": {"active", "suspended"},
    "request": {"active"},
    "manage": {"active"},
}
# The invitation's own pages: reached before one is a member.
PUBLIC = {"invitation", "invitation-accept"}


def _routes(patterns, prefix=""):
    for p in patterns:
        if isinstance(p, URLResolver):
            yield from _routes(p.url_patterns, prefix)
        elif isinstance(p, URLPattern) and p.name:
            yield p


def portal_routes():
    """Every named route of the csp_portal namespace, with arguments to reverse it."""
    routes = []
    for pattern in _routes(csp_portal.urls.urlpatterns):
        kwargs = {
            name: 999999 if converter.__class__.__name__ == "IntConverter" else "x"
            for name, converter in pattern.pattern.converters.items()
        }
        routes.append(
            (pattern.name, pattern.callback, reverse(f"csp_portal:{pattern.name}", kwargs=kwargs))
        )
    return routes


def test_every_route_of_the_portal_names_its_capability():
    names = {name for name, _, _ in portal_routes()}
    assert {"home", "users", "activity"} <= names
    undeclared = [
        name
        for name, view, _ in portal_routes()
        if name not in PUBLIC and getattr(view, "csp_capability", None) not in ALLOWED
    ]
    assert undeclared == []


def _answers(client, url):
    return client.get(url).status_code, client.post(url, {}).status_code


@pytest.mark.parametrize("status", ["active", "suspended", "revoked"])
@pytest.mark.parametrize("role", ["admin", "agent", "viewer"])
def test_each_role_gets_exactly_its_capabilities_on_every_route(role, status):
    csp = factories.make_csp(legal_name=f"Table {role} {status}", status=status)
    client = portal_client(make_member(csp, role))
    client.raise_request_exception = False  # the table is about access, not each form
    wrong = []
    for name, view, url in portal_routes():
        if name in PUBLIC:
            continue
        capability = view.csp_capability
        allowed = role in ALLOWED[capability] and status in STATUSES[capability]
        answers = _answers(client, url)
        if allowed and 403 in answers:
            wrong.append(f"{name}: {role} of a {status} CSP refused {answers}")
        if not allowed and (403 not in answers or not set(answers) <= {403, 405}):
            wrong.append(f"{name}: {role} of a {status} CSP allowed {answers}")
    assert wrong == []


def test_someone_signed_in_who_is_no_member_is_refused_everywhere(client):
    user = make_user("customer@example.com")
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    for name, _, url in portal_routes():
        if name not in PUBLIC:
            assert 403 in _answers(client, url), name


def test_nobody_signed_in_is_sent_to_sign_in(client):
    response = client.get(reverse("csp_portal:home"))
    assert response.status_code == 302 and response["Location"].startswith("/account/login/")


def test_a_member_without_an_authenticator_app_is_sent_to_set_one_up_first(active_csp):
    client = portal_client(make_member(active_csp, CspRole.VIEWER, totp=False))
    response = client.get(reverse("csp_portal:home"))
    assert response["Location"] == reverse("mfa_activate_totp")


def test_a_removed_member_is_refused(active_csp):
    make_member(active_csp, CspRole.ADMIN)
    gone = make_member(active_csp, CspRole.AGENT)
    client = portal_client(gone)
    people_services.member_remove(member=gone, now=NOW, actor=Actor.system("t"))
    assert client.get(reverse("csp_portal:home")).status_code == 403


# --- Suspended and revoked CSPs ---------------------------------------------------------------


def test_a_suspended_csps_member_sees_the_notice_and_reads_but_cannot_request(active_csp, staff):
    client = portal_client(make_member(active_csp, CspRole.AGENT))
    csp_suspend(
        csp=active_csp, now=NOW, reason="Unanswered spam reports.", actor=Actor.staff(staff)
    )

    home = client.get(reverse("csp_portal:home"))
    assert home.status_code == 200
    assert b"suspended" in home.content and b"Unanswered spam reports." in home.content
    routes = {name: url for name, _, url in portal_routes()}
    if "agreements" in routes:
        assert client.get(routes["agreements"]).status_code == 200
    if "request" in routes:
        refused = client.get(routes["request"])
        assert refused.status_code == 403
        assert b"suspended" in refused.content and b"start nothing" in refused.content


def test_a_revoked_csps_member_sees_only_home_with_the_notice(revoked_csp):
    client = portal_client(make_member(revoked_csp, CspRole.ADMIN))
    home = client.get(reverse("csp_portal:home"))
    assert home.status_code == 200 and b"revoked" in home.content
    assert client.get(reverse("csp_portal:users")).status_code == 403


# --- The users page ---------------------------------------------------------------------


def test_an_admin_invites_a_user_who_is_emailed_a_sealed_link(active_csp):
    client = portal_client(make_member(active_csp, CspRole.ADMIN))

    response = client.post(
        reverse("csp_portal:user-invite"),
        {"email": "new.agent@bright-advice.example", "role": "agent"},
        REMOTE_ADDR="203.0.113.9",
    )

    assert response["Location"] == reverse("csp_portal:users")
    [email] = invitation_emails("new.agent@bright-advice.example")
    [token] = tokens_in(email.body_text)
    assert token not in email.body_text
    invitation = CspInvitation.objects.get()
    assert (invitation.role, invitation.invited_by) == ("agent", client.member.user)
    event = CspPortalEvent.objects.get(kind="invitation_sent")
    assert (event.user, event.ip) == (client.member.user, "203.0.113.9")
    assert event.details["email"] == "n***@bright-advice.example"
    page = client.get(reverse("csp_portal:users"))
    assert b"new.agent@bright-advice.example" in page.content


def test_an_admin_changes_a_role_and_removes_a_user_and_both_are_recorded(active_csp):
    client = portal_client(make_member(active_csp, CspRole.ADMIN))
    other = make_member(active_csp, CspRole.VIEWER, email="val@bright-advice.example")

    client.post(reverse("csp_portal:user-role", args=[other.pk]), {"role": "agent"})
    assert CspMember.objects.get(pk=other.pk).role == CspRole.AGENT
    client.post(reverse("csp_portal:user-remove", args=[other.pk]))
    assert CspMember.objects.get(pk=other.pk).removed_at is not None

    changed, removed = CspPortalEvent.objects.order_by("pk")
    assert (changed.kind, changed.details["from"], changed.details["to"]) == (
        "role_changed",
        "viewer",
        "agent",
    )
    assert (removed.kind, removed.details["email"]) == (
        "member_removed",
        "v***@bright-advice.example",
    )
    assert {changed.user, removed.user} == {client.member.user}


def test_the_last_admin_can_neither_step_down_nor_leave(active_csp):
    client = portal_client(make_member(active_csp, CspRole.ADMIN))
    me = client.member

    demoted = client.post(reverse("csp_portal:user-role", args=[me.pk]), {"role": "viewer"})
    removed = client.post(reverse("csp_portal:user-remove", args=[me.pk]))

    assert demoted.status_code == removed.status_code == 400
    assert b"at least one admin" in removed.content
    assert CspMember.objects.get(pk=me.pk).role == CspRole.ADMIN
    assert CspMember.objects.get(pk=me.pk).removed_at is None


def test_with_a_second_admin_an_admin_may_step_down(active_csp):
    client = portal_client(make_member(active_csp, CspRole.ADMIN))
    make_member(active_csp, CspRole.ADMIN)

    client.post(reverse("csp_portal:user-role", args=[client.member.pk]), {"role": "viewer"})

    assert CspMember.objects.get(pk=client.member.pk).role == CspRole.VIEWER


def test_an_admin_cannot_touch_another_csps_users(active_csp, other_csp):
    client = portal_client(make_member(active_csp, CspRole.ADMIN))
    stranger = make_member(other_csp, CspRole.ADMIN)

    assert client.post(reverse("csp_portal:user-remove", args=[stranger.pk])).status_code == 404
    assert CspMember.objects.get(pk=stranger.pk).removed_at is None


def test_an_admin_withdraws_a_pending_invitation(active_csp):
    client = portal_client(make_member(active_csp, CspRole.ADMIN))
    path, _ = invite(active_csp)
    invitation = CspInvitation.objects.get()

    client.post(reverse("csp_portal:invitation-revoke", args=[invitation.pk]))

    assert CspInvitation.objects.get().revoked_at is not None
    assert Client().get(path).status_code == 404
    assert CspPortalEvent.objects.filter(kind="invitation_revoked").count() == 1


def test_the_activity_page_lists_sign_ins_and_changes_with_masked_addresses(active_csp):
    client = portal_client(make_member(active_csp, CspRole.ADMIN))
    invite(active_csp, email="someone@bright-advice.example")

    page = client.get(reverse("csp_portal:activity")).content.decode()

    assert "Invitation sent" in page and "s***@bright-advice.example" in page
    assert "someone@bright-advice.example" not in page


def test_the_portal_nav_offers_each_role_only_what_it_may_use(active_csp):
    pages = {
        role: portal_client(make_member(active_csp, role)).get(reverse("csp_portal:home"))
        for role in ("admin", "agent", "viewer")
    }
    users = reverse("csp_portal:users").encode()

    assert users in pages["admin"].content
    assert users not in pages["agent"].content and users not in pages["viewer"].content
    assert b"Sign out" in pages["viewer"].content
