"""Customers sign up and sign in through django-allauth at /account/ (staff too).

Emails are read from the outbox (the rows the portal stores, keys and codes
sealed in them) and opened as the sender would open them (``tokens_in``).
"""

from datetime import timedelta

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from accounts.auth_services import ACCOUNT_DELETED
from accounts.models import AccountEvent, AccountEventKind, PremiseLink
from affirmations.models import Agreement, Record
from outbox.models import OutboundEmail
from smt_portal.sealed_tokens import tokens_in, unseal
from tests.affirmations.conftest import (  # noqa: F401 (fixtures)
    NOW,
    disclosure,
    frozen,
    request_agreement,
    residential,
)
from tests.data_access.conftest import opted_in

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen")]
User = get_user_model()
PASSWORD = "a long enough passphrase"
ADDRESS = "maria.lopez@example.com"


def make_customer(name, email):
    """An account whose address is proven (as after the emailed link)."""
    user = User.objects.create_user(username=name, email=email, password=PASSWORD)
    EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    return user


def link_premise(user, premise, *, linked_at=NOW):
    return PremiseLink.objects.create(user=user, premise=premise, linked_at=linked_at)


def emails_to(address, kind):
    return list(OutboundEmail.objects.filter(to_address=address, kind=kind).order_by("id"))


def sign_up(client, email=ADDRESS, password=PASSWORD, **extra):
    return client.post(
        "/account/signup/", {"email": email, "password1": password, "password2": password}, **extra
    )


def confirm_path(email):
    [key] = tokens_in(email.body_text)
    return reverse("account_confirm_email", args=[key])


def signed_in_user(client):
    return client.session.get("_auth_user_id")


# --- Sign-up and the proven address ------------------------------------------------------


def test_a_customer_signs_up_proves_the_address_by_the_emailed_link_and_is_signed_in(client):
    response = sign_up(client, REMOTE_ADDR="198.51.100.7")

    assert response.status_code == 302
    assert response["Location"] == reverse("account_email_verification_sent")
    assert signed_in_user(client) is None  # not before the address is proven
    [email] = emails_to(ADDRESS, "account_confirm_email")
    assert "Confirm your email address" in email.subject
    path = confirm_path(email)
    # The stored email holds the key sealed; the sent one holds the link.
    assert path not in email.body_text and path not in email.body_html
    assert f"http://testserver{path}" in unseal(email.body_text).replace(
        "http://127.0.0.1:8000", "http://testserver"
    )
    assert path in unseal(email.body_html)

    assert "Confirm" in client.get(path).text
    response = client.post(path)

    user = User.objects.get(email=ADDRESS)
    assert response.status_code == 302
    assert response["Location"] == "/account/"  # the dashboard, not the admin
    assert signed_in_user(client) == str(user.pk)
    assert EmailAddress.objects.get(user=user).verified
    [event] = AccountEvent.objects.filter(account_ref=user.pk)
    assert (event.kind, event.ip, event.details) == (
        AccountEventKind.SIGNED_UP,
        "198.51.100.7",
        {"email": "m***@example.com"},
    )


def test_after_signing_in_a_customer_lands_on_the_account(client):
    make_customer("maria", ADDRESS)

    response = client.post("/account/login/", {"login": ADDRESS, "password": PASSWORD})

    assert response.status_code == 302
    assert response["Location"] == "/account/"
    dashboard = client.get("/account/").text
    for way in ["/account/email/", "/account/2fa/", "/account/delete/", "/account/logout/"]:
        assert f'href="{way}"' in dashboard


def test_an_unproven_address_cannot_sign_in(client):
    sign_up(client)
    other_browser = Client()

    response = other_browser.post("/account/login/", {"login": ADDRESS, "password": PASSWORD})

    assert response.status_code == 302
    assert response["Location"] == reverse("account_email_verification_sent")
    assert signed_in_user(other_browser) is None
    assert other_browser.get("/account/").status_code == 302


def test_a_customer_signs_in_with_an_emailed_code(client):
    user = make_customer("maria", ADDRESS)

    response = client.post("/account/login/code/", {"email": ADDRESS})

    assert response["Location"] == reverse("account_confirm_login_code")
    [email] = emails_to(ADDRESS, "account_login_code")
    [code] = tokens_in(email.body_text)
    assert code not in email.body_text and code not in email.body_html  # sealed at rest
    assert code in unseal(email.body_text)
    response = client.post(reverse("account_confirm_login_code"), {"code": code})
    assert response.status_code == 302
    assert signed_in_user(client) == str(user.pk)


def test_a_wrong_code_signs_nobody_in(client):
    make_customer("maria", ADDRESS)
    client.post("/account/login/code/", {"email": ADDRESS})

    response = client.post(reverse("account_confirm_login_code"), {"code": "WRONG1"})

    assert response.status_code == 200
    assert signed_in_user(client) is None


# --- Account enumeration -----------------------------------------------------------------


def _answer(response):
    return response.status_code, response.get("Location")


def test_signing_up_with_a_taken_address_answers_as_a_new_one_and_tells_its_owner(client):
    make_customer("maria", ADDRESS)

    taken = sign_up(Client(), email=ADDRESS)
    new = sign_up(Client(), email="someone.new@example.com")

    assert _answer(taken) == _answer(new)
    assert User.objects.filter(email=ADDRESS).count() == 1
    [notice] = emails_to(ADDRESS, "account_already_exists")
    assert "/account/password/reset/" in notice.body_text
    assert emails_to("someone.new@example.com", "account_confirm_email")


def test_password_reset_answers_alike_for_known_and_unknown_addresses(client):
    make_customer("maria", ADDRESS)

    known = Client().post("/account/password/reset/", {"email": ADDRESS})
    unknown = Client().post("/account/password/reset/", {"email": "nobody@example.com"})

    assert _answer(known) == _answer(unknown) == (302, reverse("account_reset_password_done"))
    [reset] = emails_to(ADDRESS, "account_password_reset")
    assert emails_to("nobody@example.com", "account_unknown")
    # The reset link works once opened as sent.
    [key] = tokens_in(reset.body_text)
    assert key not in reset.body_text
    uid, token = key.split("-", 1)
    path = reverse("account_reset_password_from_key", kwargs={"uidb36": uid, "key": token})
    assert path in unseal(reset.body_text)
    form_page = client.get(path, follow=True)
    assert form_page.status_code == 200
    new = "another long passphrase"
    client.post(form_page.redirect_chain[-1][0], {"password1": new, "password2": new})
    assert User.objects.get(email=ADDRESS).check_password(new)
    assert AccountEvent.objects.filter(kind="password_reset").count() == 1


def test_code_sign_in_answers_alike_for_known_and_unknown_addresses(client):
    make_customer("maria", ADDRESS)

    known = Client().post("/account/login/code/", {"email": ADDRESS})
    unknown = Client().post("/account/login/code/", {"email": "nobody@example.com"})

    assert _answer(known) == _answer(unknown) == (302, reverse("account_confirm_login_code"))
    assert emails_to(ADDRESS, "account_login_code")
    assert emails_to("nobody@example.com", "account_unknown")


# --- Rate limits -------------------------------------------------------------------------


def test_after_ten_sign_ups_an_hour_from_one_address_the_next_gets_a_429_page(client):
    for n in range(10):
        assert sign_up(client, email=f"person{n}@example.com").status_code == 302

    response = sign_up(client, email="one.more@example.com")

    assert response.status_code == 429
    assert "Too many attempts to sign in or sign up" in response.text
    spanish = sign_up(client, email="otra@example.com", HTTP_ACCEPT_LANGUAGE="es")
    assert spanish.status_code == 429 and "Demasiados intentos" in spanish.text
    assert not User.objects.filter(email="one.more@example.com").exists()
    # Another network is not affected.
    assert (
        sign_up(Client(), email="one.more@example.com", REMOTE_ADDR="203.0.113.50").status_code
        == 302
    )


def test_code_requests_for_one_address_are_limited(client):
    make_customer("maria", ADDRESS)
    for _ in range(3):
        Client().post("/account/login/code/", {"email": ADDRESS})

    response = Client().post("/account/login/code/", {"email": ADDRESS})

    assert response.status_code == 200
    assert "Too many" in response.text
    assert len(emails_to(ADDRESS, "account_login_code")) == 3


# --- Email change ------------------------------------------------------------------------


def test_a_new_address_replaces_the_old_one_only_once_proven_and_is_recorded(client):
    user = make_customer("maria", ADDRESS)
    client.post("/account/login/", {"login": ADDRESS, "password": PASSWORD})

    response = client.post(
        "/account/email/",
        {"email": "maria.new@example.com", "action_add": ""},
        REMOTE_ADDR="198.51.100.8",
    )

    assert response.status_code == 302
    user.refresh_from_db()
    assert user.email == ADDRESS  # unproven: the old address stays
    assert not AccountEvent.objects.filter(kind=AccountEventKind.EMAIL_CHANGED).exists()
    [email] = emails_to("maria.new@example.com", "account_confirm_email")
    assert "Confirm your new email address" in email.subject
    client.post(confirm_path(email), REMOTE_ADDR="198.51.100.8")

    user.refresh_from_db()
    assert user.email == "maria.new@example.com"
    assert list(EmailAddress.objects.filter(user=user).values_list("email", "verified")) == [
        ("maria.new@example.com", True)
    ]
    [event] = AccountEvent.objects.filter(kind=AccountEventKind.EMAIL_CHANGED)
    assert (event.account_ref, event.ip, event.details) == (
        user.pk,
        "198.51.100.8",
        {"from": "m***@example.com", "to": "m***@example.com"},
    )


# --- Deletion ----------------------------------------------------------------------------


def test_deleting_the_account_asks_for_the_password_then_a_confirmation(client):
    user = make_customer("maria", ADDRESS)
    client.force_login(user)

    response = client.get("/account/delete/")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_reauthenticate"))

    client.post(reverse("account_reauthenticate"), {"password": PASSWORD})
    page = client.get("/account/delete/")
    assert page.status_code == 200
    assert 'type="checkbox"' in page.text

    unconfirmed = client.post("/account/delete/", {})
    assert unconfirmed.status_code == 200
    assert User.objects.filter(pk=user.pk).exists()


def test_a_deleted_account_closes_its_premise_links_and_keeps_every_agreement_and_record(
    client,
    active_csp,
    other_csp,
    disclosure,  # noqa: F811 (a fixture)
):
    user = make_customer("maria", ADDRESS)
    home = residential()
    link_premise(user, home, linked_at=NOW - timedelta(days=3))
    opted_in(active_csp, home, disclosure=disclosure)
    request_agreement(other_csp, home, email=ADDRESS)
    agreements = list(Agreement.objects.values_list("id", "status", "customer_email"))
    records = Record.objects.count()
    client.force_login(user)
    client.post(reverse("account_reauthenticate"), {"password": PASSWORD})

    response = client.post("/account/delete/", {"confirm": "on"}, REMOTE_ADDR="198.51.100.9")

    assert response.status_code == 302
    assert client.get(response["Location"]).status_code == 200
    assert not User.objects.filter(pk=user.pk).exists()
    assert signed_in_user(client) is None
    assert not PremiseLink.objects.filter(premise=home, unlinked_at__isnull=True).exists()
    events = {e.kind: e for e in AccountEvent.objects.filter(account_ref=user.pk)}
    assert events[AccountEventKind.PREMISE_UNLINKED].details == {
        "premise_id": home.pk,
        "reason": ACCOUNT_DELETED,
    }
    deleted = events[AccountEventKind.DELETED]
    assert (deleted.user, deleted.ip) == (None, "198.51.100.9")
    assert deleted.details["email"] == "m***@example.com"
    assert list(Agreement.objects.values_list("id", "status", "customer_email")) == agreements
    assert Record.objects.count() == records
    # The premise is free for its next account holder.
    link_premise(make_customer("nora", "nora@example.com"), home)


def test_staff_cannot_delete_their_account_from_the_customer_pages(client):
    staff = User.objects.create_user("committee", "committee@example.com", PASSWORD, is_staff=True)
    client.post("/account/login/", {"login": "committee", "password": PASSWORD})

    response = client.get("/account/delete/")
    assert response.status_code == 403
    assert client.post("/account/delete/", {"confirm": "on"}).status_code == 403
    assert User.objects.filter(pk=staff.pk).exists()


# --- Staff on the shared sign-in page ----------------------------------------------------


def test_staff_without_an_address_sign_in_by_username_despite_mandatory_verification(
    client, settings
):
    settings.STAFF_MFA_REQUIRED = False
    User.objects.create_user("auditor", password=PASSWORD, is_staff=True)

    response = client.post("/account/login/", {"login": "auditor", "password": PASSWORD})

    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_staff_get_neither_sign_in_codes_nor_reset_links_by_email(client):
    User.objects.create_user("committee", "committee@example.com", PASSWORD, is_staff=True)

    Client().post("/account/login/code/", {"email": "committee@example.com"})
    Client().post("/account/password/reset/", {"email": "committee@example.com"})

    kinds = set(OutboundEmail.objects.values_list("kind", flat=True))
    assert kinds == {"account_unknown"}


def test_the_former_staff_sign_in_address_leads_to_the_new_one(client):
    response = client.get("/accounts/login/?next=/admin/")

    assert response.status_code == 302
    assert response["Location"] == "/account/login/?next=/admin/"


# --- Spanish -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "words"),
    [
        ("/account/signup/", "Registrarse"),
        ("/account/login/", "Iniciar sesión"),
        ("/account/login/code/", "código"),
        ("/account/password/reset/", "contraseña"),
    ],
)
def test_the_sign_in_pages_speak_spanish(client, path, words):
    page = client.get(f"{path}?lang=es").text

    assert '<html lang="es">' in page
    assert words in page


def test_a_sign_up_in_spanish_gets_its_email_in_spanish(client):
    client.get("/account/signup/?lang=es")

    sign_up(client)

    [email] = emails_to(ADDRESS, "account_confirm_email")
    assert email.language == "es"
    assert "Confirme su correo electrónico" in email.subject


def test_the_sign_up_form_labels_its_inputs_and_ties_errors_to_them(client):
    page = sign_up(client, email="not an address").text

    for field in ("email", "password1", "password2"):
        assert f'<label for="id_{field}"' in page
    assert 'aria-invalid="true"' in page
    assert 'aria-describedby="id_email_error"' in page


# --- Second factor and sign-out ----------------------------------------------------------


def test_a_customer_with_an_authenticator_app_gives_its_code_after_the_password(client):
    from allauth.mfa.totp.internal.auth import (
        TOTP,
        format_hotp_value,
        generate_totp_secret,
        hotp_value,
    )

    user = make_customer("maria", ADDRESS)
    secret = generate_totp_secret()
    TOTP.activate(user, secret)

    response = client.post("/account/login/", {"login": ADDRESS, "password": PASSWORD})

    assert response["Location"] == reverse("mfa_authenticate")
    assert signed_in_user(client) is None
    code = format_hotp_value(hotp_value(secret, int(NOW.timestamp()) // 30))
    client.post(reverse("mfa_authenticate"), {"code": code})
    assert signed_in_user(client) == str(user.pk)


def test_the_second_factor_is_optional_for_customers(client):
    make_customer("maria", ADDRESS)
    client.post("/account/login/", {"login": ADDRESS, "password": PASSWORD})

    assert client.get(reverse("mfa_index")).status_code == 200  # where to set one up
    assert client.get("/account/email/").status_code == 200  # nothing demands one


def test_signing_out_is_recorded(client):
    user = make_customer("maria", ADDRESS)
    client.post("/account/login/", {"login": ADDRESS, "password": PASSWORD})

    client.post(reverse("account_logout"), REMOTE_ADDR="198.51.100.10")

    assert signed_in_user(client) is None
    [event] = AccountEvent.objects.filter(kind="signed_out")
    assert (event.account_ref, event.ip) == (user.pk, "198.51.100.10")
