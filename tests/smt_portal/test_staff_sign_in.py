"""Staff sign in through allauth: rate-limited attempts, then a TOTP code when required.

Codes are computed with allauth's own TOTP functions at a frozen time; the
failed-attempt limits run on the configured cache (Redis when REDIS_URL is set).
"""

import re
from datetime import UTC, datetime, timedelta

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import (
    SECRET_SESSION_KEY,
    TOTP,
    format_hotp_value,
    generate_totp_secret,
    hotp_value,
)
from django.contrib.auth import get_user_model
from django.core.management import call_command

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 2, 15, 0, 7, tzinfo=UTC)
PASSWORD = "correct horse battery staple"
User = get_user_model()


@pytest.fixture
def clock(time_machine):
    time_machine.move_to(NOW, tick=False)
    return time_machine


@pytest.fixture
def mfa_required(settings):
    settings.STAFF_MFA_REQUIRED = True


@pytest.fixture
def committee_member(db):
    """A staff member of the management committee, without an authenticator app yet."""
    return User.objects.create_user("committee", "committee@example.com", PASSWORD, is_staff=True)


@pytest.fixture
def committee_member_with_totp(committee_member):
    secret = generate_totp_secret()
    TOTP.activate(committee_member, secret)
    committee_member.totp_secret = secret
    return committee_member


def code_at(secret, when):
    """What the staff member's authenticator app shows at ``when``."""
    return format_hotp_value(hotp_value(secret, int(when.timestamp()) // 30))


def open_totp_activation(client):
    """Sign in by password and confirm it, as allauth asks before adding a factor;
    returns the secret the activation page shows."""
    sign_in(client)
    client.post("/account/reauthenticate/", {"password": PASSWORD})
    client.get("/account/2fa/totp/activate/")
    return client.session[SECRET_SESSION_KEY]


def sign_in(client, username="committee", password=PASSWORD, **extra):
    return client.post(
        "/account/login/?next=/admin/",
        {"login": username, "password": password, "next": "/admin/"},
        **extra,
    )


def test_the_admin_login_page_sends_staff_to_the_portal_sign_in(client):
    response = client.get("/admin/login/?next=/admin/csp_registry/csp/")

    assert response.status_code == 302
    assert response["Location"] == "/account/login/?next=/admin/csp_registry/csp/"


def test_a_password_posted_to_the_admin_login_page_signs_nobody_in(client, committee_member):
    response = client.post("/admin/login/", {"username": "committee", "password": PASSWORD})

    assert response.status_code == 302
    assert response["Location"].startswith("/account/login/")
    assert "_auth_user_id" not in client.session


def test_an_admin_login_page_next_pointing_elsewhere_is_ignored(client):
    response = client.get("/admin/login/?next=https://evil.example/")

    assert response["Location"] == "/account/login/?next=/admin/"


def test_with_the_second_factor_off_a_password_alone_opens_the_admin(
    client, committee_member, settings
):
    settings.STAFF_MFA_REQUIRED = False

    response = sign_in(client)

    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_staff_signed_in_by_password_alone_are_sent_to_set_up_totp_before_any_admin_page(
    client, committee_member, mfa_required, clock
):
    assert sign_in(client)["Location"] == "/admin/"

    for page in ["/admin/", "/admin/csp_registry/csp/", "/admin/auth/user/"]:
        response = client.get(page, follow=True)
        chain = [url for url, _ in response.redirect_chain]
        assert chain[1:] == [
            "/account/2fa/totp/activate/",
            # allauth asks for the password again before changing the second factor.
            "/account/reauthenticate/?next=%2Faccount%2F2fa%2Ftotp%2Factivate%2F",
        ], page

    response = client.post(
        "/account/reauthenticate/",
        {"password": PASSWORD, "next": "/account/2fa/totp/activate/"},
        follow=True,
    )
    assert "Activate Authenticator App" in response.content.decode()


def test_staff_who_activate_totp_with_a_valid_code_then_reach_the_admin(
    client, committee_member, mfa_required, clock
):
    secret = open_totp_activation(client)

    response = client.post("/account/2fa/totp/activate/", {"code": code_at(secret, NOW)})

    assert response.status_code == 302
    assert Authenticator.objects.filter(
        user=committee_member, type=Authenticator.Type.TOTP
    ).exists()
    codes_page = client.get(response["Location"]).content.decode()
    assert 'href="/admin/"' in codes_page  # the way on, once the recovery codes are saved
    assert client.get("/admin/").status_code == 200


def test_a_wrong_code_does_not_activate_totp(client, committee_member, mfa_required, clock):
    secret = open_totp_activation(client)
    wrong = code_at(secret, NOW + timedelta(minutes=5))

    response = client.post("/account/2fa/totp/activate/", {"code": wrong})

    assert response.status_code == 200
    assert not Authenticator.objects.filter(user=committee_member).exists()
    assert client.get("/admin/")["Location"].startswith("/admin/login/")


def test_staff_with_totp_give_a_valid_code_after_their_password(
    client, committee_member_with_totp, mfa_required, clock
):
    response = sign_in(client)

    assert response["Location"] == "/account/2fa/authenticate/"
    assert "_auth_user_id" not in client.session  # the password alone signs nobody in
    assert client.get("/admin/")["Location"].startswith("/admin/login/")

    code = code_at(committee_member_with_totp.totp_secret, NOW)
    response = client.post("/account/2fa/authenticate/", {"code": code})

    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_a_wrong_code_signs_nobody_in(client, committee_member_with_totp, mfa_required, clock):
    sign_in(client)
    secret = committee_member_with_totp.totp_secret

    for wrong in ["000000", code_at(secret, NOW - timedelta(minutes=2)), "not a code"]:
        response = client.post("/account/2fa/authenticate/", {"code": wrong})
        assert response.status_code == 200
        assert "Incorrect code" in response.content.decode()

    assert "_auth_user_id" not in client.session
    assert client.get("/admin/")["Location"].startswith("/admin/login/")


def test_a_code_works_once(client, committee_member_with_totp, mfa_required, clock):
    code = code_at(committee_member_with_totp.totp_secret, NOW)
    sign_in(client)
    client.post("/account/2fa/authenticate/", {"code": code})
    client.post("/account/logout/")

    sign_in(client)
    response = client.post("/account/2fa/authenticate/", {"code": code})

    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_after_five_wrong_passwords_even_the_right_one_is_refused_for_that_account(
    client, committee_member, clock
):
    for _ in range(5):
        assert sign_in(client, password="wrong").status_code == 200

    response = sign_in(client)

    assert response.status_code == 200
    assert "Too many failed login attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session
    # Other accounts signing in from the same address are not locked out.
    User.objects.create_user("auditor", password=PASSWORD, is_staff=True)
    assert sign_in(client, username="auditor").status_code == 302


def test_the_account_limit_passes_with_its_window(client, committee_member, clock):
    for _ in range(5):
        sign_in(client, password="wrong")

    clock.move_to(NOW + timedelta(minutes=15, seconds=1), tick=False)

    assert sign_in(client).status_code == 302


def test_after_twenty_failed_sign_ins_from_one_address_even_a_right_password_is_refused(
    client, committee_member, clock
):
    # Four guesses at each of five names: under the limit of every account.
    for name in ["ann", "bob", "cy", "dee", "eve"]:
        for _ in range(4):
            assert sign_in(client, username=name, password="guess").status_code == 200

    response = sign_in(client)

    assert response.status_code == 200
    assert "Too many failed login attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session
    # The same account from another address is not affected.
    assert sign_in(client, REMOTE_ADDR="203.0.113.9").status_code == 302


def test_more_than_thirty_sign_in_forms_a_minute_from_one_address_get_a_429_page(client, clock):
    for _ in range(30):
        assert sign_in(client, username="guess", password="guess").status_code == 200

    response = sign_in(client, username="guess", password="guess")

    assert response.status_code == 429
    assert "Too many attempts to sign in or sign up came from your network" in response.text


def test_wrong_codes_count_against_the_same_limit(
    client, committee_member_with_totp, mfa_required, clock
):
    sign_in(client)
    for _ in range(5):
        client.post("/account/2fa/authenticate/", {"code": "000000"})

    code = code_at(committee_member_with_totp.totp_secret, NOW)
    response = client.post("/account/2fa/authenticate/", {"code": code})

    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_force_login_reaches_the_admin_only_with_an_authenticator(
    client, committee_member, mfa_required
):
    client.force_login(committee_member)
    assert client.get("/admin/").status_code == 302

    TOTP.activate(committee_member, generate_totp_secret())
    assert client.get("/admin/").status_code == 200


def test_a_signed_in_user_who_is_not_staff_is_refused_the_admin(client, db):
    client.force_login(User.objects.create_user("someone", password=PASSWORD))

    assert client.get("/admin/login/?next=/admin/").status_code == 403


def test_staff_cannot_sign_up_or_reset_a_password_by_email(client, committee_member):
    # The sign-up page is the customers' (tests/accounts/test_auth.py): it makes no staff.
    client.post(
        "/account/signup/",
        {"email": "someone@example.com", "password1": PASSWORD, "password2": PASSWORD},
    )
    assert not User.objects.filter(is_staff=True).exclude(pk=committee_member.pk).exists()
    # A staff address gets no reset link and no sign-in code.
    client.post("/account/password/reset/", {"email": "committee@example.com"})
    client.post("/account/login/code/", {"email": "committee@example.com"})
    from outbox.models import OutboundEmail

    assert (
        not OutboundEmail.objects.filter(to_address="committee@example.com")
        .exclude(kind="account_unknown")
        .exists()
    )


def test_the_sign_in_page_speaks_spanish(client, db):
    page = client.get("/account/login/?lang=es").content.decode()

    assert '<html lang="es">' in page
    assert "El personal del portal inicia sesión con su nombre de usuario." in page
    assert "Iniciar sesión" in page


def test_the_second_factor_pages_speak_spanish_once_chosen(
    client, committee_member_with_totp, mfa_required, clock
):
    client.get("/account/login/?lang=es")
    sign_in(client)

    page = client.get("/account/2fa/authenticate/").content.decode()

    assert '<html lang="es">' in page
    assert "Autenticación de doble factor" in page
    response = client.post("/account/2fa/authenticate/", {"code": "000000"})
    assert "Código incorrecto" in response.content.decode()


def test_demo_setups_staff_login_opens_the_admin_in_development(client, capsys, settings, tmp_path):
    settings.STAFF_MFA_REQUIRED = False
    call_command("demo_setup", key_file=str(tmp_path / "demo-api-key"))
    password = re.search(r"Staff login: admin / (\S+)", capsys.readouterr().out).group(1)

    response = sign_in(client, username="admin", password=password)

    assert response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200
