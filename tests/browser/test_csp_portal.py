"""The CSP portal in a real browser (issue 15).

The walk-through of the issue's "Done when": a company applies at
``/csp/register/`` (the real ALTCHA widget, cheap in tests), staff approve it,
the contact opens the invitation from the outbox, sets a password and an
authenticator app (its code computed from the secret on the page), creates a
sandbox key on ``/csp/keys/new/``, and with that key, over HTTP against the
live server, makes a sandbox agreement whose scripted customer opts in, then
reads its 15-minute data. Then the request form for a live premise, by
keyboard and mouse, and a key's secret shown once. Every portal page visited:
axe (no serious or critical violation) and a 390 px screen.
"""

import json
import re
import time
import urllib.error
import urllib.request
from datetime import timedelta

import pytest
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from affirmations.models import Agreement, AgreementStatus
from affirmations.sandbox import ANSWER_AFTER, sandbox_answers_run
from csp_portal.models import CspMember, CspRole
from csp_registry.models import ApiKey, Csp, CspStatus
from csp_registry.services import csp_approve
from outbox.models import OutboundEmail
from premises.sandbox import SANDBOX_PREMISES
from smt_portal.actors import Actor
from smt_portal.calendar import CENTRAL
from smt_portal.sealed_tokens import tokens_in
from tests.affirmations.conftest import residential, triple
from tests.browser.checks import overflow, serious_violations, tab_to, tab_until
from tests.csp_portal.conftest import make_member

pytestmark = pytest.mark.django_db(transaction=True)
PHONE = 390
CONTACT = "founder@new-meters.example"
PASSWORD = "a long enough passphrase 42"
SANDBOX = SANDBOX_PREMISES[0]
OPT_IN = "opt-in@sandbox.smt-portal.example"


def _check(page, axe):
    """A phone's screen and no serious accessibility violation, on the page shown."""
    assert page.viewport_size["width"] == PHONE
    assert overflow(page) <= 0, page.url
    assert serious_violations(page, axe) == [], page.url


def _current_code(secret):
    """What an authenticator app shows now, at least five seconds before it changes."""
    if time.time() % 30 > 25:
        time.sleep(30 - time.time() % 30)
    return format_hotp_value(hotp_value(secret, int(time.time()) // 30))


def _api(portal, key, method, path, body=None):
    """One HTTP call to the live server's API with ``key``: (status, decoded JSON)."""
    request = urllib.request.Request(
        f"{portal.url}{path}",
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {key}", "Accept": "application/json",
                 "Content-Type": "application/json"},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 (the test's server)
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


@pytest.fixture
def sandbox_seeded(settings):
    """The published sandbox premises and their readings, as ``seed_reference_data``
    writes them where ``SANDBOX_SEED`` is on (off in tests)."""
    settings.SANDBOX_SEED = True
    call_command("seed_reference_data", stdout=open("/dev/null", "w"))  # noqa: SIM115


@pytest.fixture
def signed_in(page, portal):
    """The browser signed in as a new member of ``csp`` in ``role``, with an
    activated authenticator app (a session cookie, as after sign-in with its code;
    the sign-in itself is walked in the first test)."""

    def sign_in(csp, role):
        member = make_member(csp, role)
        client = Client()
        client.force_login(member.user, backend="django.contrib.auth.backends.ModelBackend")
        page.context.add_cookies([{
            "name": settings.SESSION_COOKIE_NAME, "url": portal.url,
            "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
        }])  # fmt: skip
        return member

    return sign_in


def _apply(page, portal):
    """A company fills the application form and solves the challenge."""
    page.goto(f"{portal.url}/csp/register/")
    for label, value in [
        ("Legal name", "New Meters Co"),
        ("DUNS number", "123456789"),
        ("Contact name", "Ana Founder"),
        ("Contact email", CONTACT),
        ("Contact phone", "+1 512 555 0100"),
        ("Notice email", "legal@new-meters.example"),
        ("Mailing address", "1 Congress Ave\nAustin, TX 78701"),
        ("Privacy policy URL", "https://new-meters.example/privacy"),
        ("How you will use the data, in English", "Energy efficiency advice. Nothing is sold."),
        ("How you will use the data, in Spanish", "Consejos de eficiencia. No se vende nada."),
    ]:
        page.get_by_label(label).fill(value)
    page.get_by_text("I'm not a robot").click()
    page.locator('.altcha[data-state="verified"]').wait_for()
    page.locator("main form button[type=submit]").last.click()
    page.get_by_role("heading", name="Application received").wait_for()


# --- The walk-through -----------------------------------------------------------------------


def test_from_the_application_to_a_sandbox_agreement_that_opts_in_and_its_data(
    page, portal, axe, sandbox_seeded
):
    # The application, in the browser.
    page.goto(f"{portal.url}/csp/register/")
    _check(page, axe)
    _apply(page, portal)
    csp = Csp.objects.get(contact_email=CONTACT)
    assert csp.status == CspStatus.PENDING_REVIEW

    # Staff approve it: the contact is invited as the first admin, by a sealed link.
    staff = get_user_model().objects.create_user(username="reviewer", is_staff=True)
    csp_approve(csp=csp, now=timezone.now(), actor=Actor.staff(staff))
    [email] = OutboundEmail.objects.filter(kind="csp_invitation", to_address=CONTACT)
    [token] = tokens_in(email.body_text)
    assert token not in email.body_text + email.body_html  # sealed in the outbox

    # Accept, choose a password.
    page.goto(f"{portal.url}/csp/invitations/{token}/")
    page.wait_for_url(re.compile(r"/csp/invitations/accept/$"))  # the token left the bar
    assert "New Meters Co" in page.content()
    _check(page, axe)
    page.locator("input[name=password1]").fill(PASSWORD)
    page.locator("input[name=password2]").fill(PASSWORD)
    page.get_by_role("button", name="Create my account").click()

    # No portal before an authenticator app: its secret is on the page, its code computed.
    page.get_by_role("heading", name="Activate Authenticator App").wait_for()
    secret = page.locator("#authenticator_secret").input_value()
    page.get_by_label("Authenticator code").fill(_current_code(secret))
    page.get_by_role("button", name="Activate").click()
    page.wait_for_url(lambda url: "/totp/activate/" not in url)  # activated
    page.goto(f"{portal.url}/csp/")
    assert page.get_by_role("heading", level=1).inner_text() == "New Meters Co"
    member = CspMember.objects.get(csp=csp)
    assert (member.role, member.user.email) == (CspRole.ADMIN, CONTACT)
    _check(page, axe)

    # A sandbox key, created on the page; its secret read there, once.
    nav = page.get_by_role("navigation", name="Provider portal")
    nav.get_by_role("link", name="API keys").click()
    page.wait_for_url(re.compile(r"/csp/keys/$"))
    page.get_by_role("link", name="Create a key").click()
    page.wait_for_url(re.compile(r"/csp/keys/new/$"))
    _check(page, axe)
    page.get_by_label("Name").fill("quick start")
    page.get_by_label("Sandbox key (smt_test_…)").check()
    page.get_by_role("button", name="Create the key").click()
    page.get_by_role("heading", name="Your new API key").wait_for()
    key = page.locator("#new-key").input_value()
    assert key.startswith("smt_test_")
    _check(page, axe)

    # With that key, over HTTP: a sandbox agreement for a published sandbox premise.
    facts = {"esi_id": SANDBOX.esi_id, "meter_number": SANDBOX.meter_number,
             "rep_certificate_number": SANDBOX.rep_certificate_number}  # fmt: skip
    status, checked = _api(portal, key, "POST", "/api/v1/premise-authentications/", facts)
    assert (status, checked["authenticated"]) == (200, True), checked
    request = {"premises": [facts], "customer_email": OPT_IN, "term_months": 12}
    status, made = _api(portal, key, "POST", "/api/v1/agreements/", request)
    assert status == 201, made
    agreement = Agreement.objects.get(pk=made["id"])
    assert agreement.sandbox and agreement.csp_id == csp.pk

    # The scripted customer opts in (a few seconds later; the clock moved, not waited for).
    sandbox_answers_run(now=timezone.now() + ANSWER_AFTER)
    status, read_back = _api(portal, key, "GET", f"/api/v1/agreements/{agreement.pk}/")
    assert (status, read_back["status"]) == (200, AgreementStatus.ACTIVE), read_back

    # Its 15-minute data, through the same data endpoint as live.
    day = (timezone.now().astimezone(CENTRAL) - timedelta(days=3)).date().isoformat()
    status, data = _api(
        portal, key, "GET",
        f"/api/v1/agreements/{agreement.pk}/interval-data/?esi_id={SANDBOX.esi_id}"
        f"&start={day}&end={day}",
    )  # fmt: skip
    assert status == 200, data
    [read] = data["days"]
    assert read["date"] == day and len(read["kwh"]) in (92, 96, 100)
    assert all(kwh > 0 for kwh in read["kwh"])

    # The portal's agreements are the live ones: the sandbox never mixes with them.
    page.goto(f"{portal.url}/csp/agreements/")
    assert agreement.confirmation_code not in page.content()
    _check(page, axe)


# --- The request form, by keyboard and by mouse -----------------------------------------------


def _request_form_by_keyboard(page, premise):
    """Only the keyboard: type each field, choose from the drop-downs, send with Enter."""
    esi_id, meter, certificate = triple(premise)
    tab_to(page, "id_form-0-esi_id")
    page.keyboard.type(esi_id)
    page.keyboard.press("Tab")
    page.keyboard.type(meter)
    page.keyboard.press("Tab")  # the provider of record: a drop-down
    assert page.evaluate("document.activeElement.id") == "id_form-0-rep_certificate_number"
    page.locator("#id_form-0-rep_certificate_number").select_option(value=certificate)
    tab_to(page, "id_customer_email")
    page.keyboard.type("jane.customer@example.com")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "id_term_months"
    page.locator("#id_term_months").select_option(value="12")
    tab_until(
        page, "element.tagName === 'BUTTON' && element.textContent.trim() === 'Send the request'",
        "Send the request",
    )  # fmt: skip
    page.keyboard.press("Enter")


def test_an_agent_requests_an_agreement_for_a_live_premise_by_keyboard_and_by_mouse(
    page, portal, axe, active_csp, signed_in
):
    signed_in(active_csp, CspRole.AGENT)
    by_keyboard, by_mouse = residential(), residential()

    page.goto(f"{portal.url}/csp/agreements/new/")
    _check(page, axe)
    _request_form_by_keyboard(page, by_keyboard)
    page.get_by_role("heading", name="Request sent").wait_for()
    first = Agreement.objects.get(csp=active_csp, premises__esi_id=by_keyboard.esi_id)
    assert page.url.endswith(f"/csp/agreements/{first.pk}/requested/")
    assert f"Confirmation code: {first.confirmation_code}" in page.content()
    assert (first.status, first.term_months, first.sandbox) == (
        AgreementStatus.PENDING_AFFIRMATION,
        12,
        False,
    )
    _check(page, axe)

    # The mouse: a blank request first shows its errors, tied to their fields.
    page.get_by_role("link", name="Request another").click()
    page.wait_for_url(re.compile(r"/csp/agreements/new/$"))
    page.get_by_role("button", name="Send the request").click()
    page.get_by_role("heading", name="Request an agreement").wait_for()
    assert page.locator('[aria-invalid="true"]').count() >= 1
    _check(page, axe)
    esi_id, meter, certificate = triple(by_mouse)
    page.get_by_label("ESI ID").fill(esi_id)
    page.get_by_label("Meter number").fill(meter)
    page.get_by_label("Retail electric provider of record").select_option(value=certificate)
    page.get_by_label("Customer's email address").fill("sam.customer@example.com")
    page.get_by_label("Term").select_option(value="12")
    page.get_by_label("Language of the customer's emails").select_option(value="es")
    page.get_by_role("button", name="Send the request").click()
    page.get_by_role("heading", name="Request sent").wait_for()
    second = Agreement.objects.get(csp=active_csp, premises__esi_id=by_mouse.esi_id)
    assert (second.customer_email, second.language) == ("sam.customer@example.com", "es")
    assert f"Confirmation code: {second.confirmation_code}" in page.content()

    page.get_by_role("link", name="See the agreement").click()
    page.wait_for_url(re.compile(rf"/csp/agreements/{second.pk}/$"))
    _check(page, axe)
    page.goto(f"{portal.url}/csp/agreements/")
    _check(page, axe)


# --- A key's secret, shown once -----------------------------------------------------------------


def test_a_new_keys_secret_is_shown_once_and_never_again(page, portal, axe, active_csp, signed_in):
    signed_in(active_csp, CspRole.ADMIN)

    page.goto(f"{portal.url}/csp/keys/")
    _check(page, axe)
    page.get_by_role("link", name="Create a key").click()
    page.get_by_label("Name").fill("billing server")
    page.get_by_role("button", name="Create the key").click()
    page.get_by_role("heading", name="Your new API key").wait_for()
    key = page.locator("#new-key").input_value()
    [api_key] = ApiKey.objects.filter(csp=active_csp, name="billing server")
    assert key.startswith(f"smt_{api_key.prefix}_") and not api_key.sandbox
    _check(page, axe)
    # Never in a cookie.
    assert all(key not in cookie["value"] for cookie in page.context.cookies())

    # Reloaded, or the list visited again: that secret is gone. (A reload sends the
    # form again, as after any POST: what it shows, if anything, is another key's.)
    page.reload()
    page.wait_for_load_state("load")
    assert key not in page.content()
    page.goto(f"{portal.url}/csp/keys/")
    content = page.content()
    assert f"smt_{api_key.prefix}…" in content and key not in content
    _check(page, axe)
    page.goto(f"{portal.url}/csp/keys/new/")
    assert key not in page.content()
    assert all(key not in cookie["value"] for cookie in page.context.cookies())
