"""The Content-Security-Policy in a real browser: no page breaks a rule of it.

Each page is opened, and used as a person would, while Chromium reports every
violation: as a ``securitypolicyviolation`` event on the page (recorded by a
script the browser itself runs before the page's own) and as a console
message (which also covers the challenge widget's Web Worker).
"""

import re
import time

import pytest
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value
from django.contrib.auth import get_user_model
from django.utils import timezone

from affirmations.models import Disclosure
from tests.affirmations.conftest import request_agreement, residential
from tests.personas import make_csp

pytestmark = pytest.mark.django_db(transaction=True)
LINK = re.compile(r"https?://\S+/affirm/[A-Za-z0-9_-]+/")
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(event.violatedDirective + " " + event.blockedURI);
});
"""


@pytest.fixture
def watched_page(page):
    """The page, and a function returning every violation it reported so far."""
    console = []
    page.on(
        "console",
        lambda message: (
            console.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    page.add_init_script(RECORD_VIOLATIONS)

    def violations():
        return console + page.evaluate("window.__cspViolations")

    return page, violations


def _solve_challenge(page):
    page.get_by_text("I'm not a robot").click()
    page.locator('.altcha[data-state="verified"]').wait_for()


def test_the_affirmation_page_with_its_challenge_breaks_no_rule(portal, mailoutbox, watched_page):
    page, violations = watched_page
    Disclosure.objects.create(
        version=1, text_en="You share usage data.", text_es="Comparte.", published_at=timezone.now()
    )
    request_agreement(make_csp(scope_of_use="Advice."), residential(), now=timezone.now())
    [email] = [m for m in mailoutbox if "affirm/" in m.body]

    page.goto(LINK.search(email.body).group(0))
    page.get_by_label("I have read the disclosures").check()
    _solve_challenge(page)  # the proof of work runs in a Web Worker
    page.get_by_role("button", name="Agree and share my data").click()
    page.get_by_role("heading", name=re.compile("You agreed to share")).wait_for()

    assert violations() == []


def test_the_report_form_with_its_challenge_breaks_no_rule(portal, watched_page):
    page, violations = watched_page

    page.goto(portal.url + "/report/?lang=es")
    page.get_by_text("No soy un robot").click()
    page.locator('.altcha[data-state="verified"]').wait_for()

    assert violations() == []


def test_the_registration_form_breaks_no_rule(portal, watched_page):
    page, violations = watched_page

    page.goto(portal.url + "/csp/register/")
    if page.locator("altcha-widget").count():
        _solve_challenge(page)
    page.get_by_role("button").last.click()  # sent empty: the page with its errors
    page.wait_for_load_state("load")

    assert violations() == []


def test_staff_sign_in_and_the_admin_break_no_rule(portal, watched_page):
    page, violations = watched_page
    get_user_model().objects.create_superuser("committee", "c@example.com", "a long passphrase")

    page.goto(portal.url + "/admin/")
    assert "/account/login/" in page.url
    page.get_by_label("Username").fill("committee")
    page.get_by_label("Password").fill("a long passphrase")
    page.get_by_role("button", name="Sign In").click()
    page.get_by_role("heading", name="Site administration").wait_for()
    for path in [
        "/admin/csp_registry/csp/",
        "/admin/monitoring/dashboard/",
        "/admin/auth/user/1/change/",
    ]:
        page.goto(portal.url + path)
        page.wait_for_load_state("load")

    assert violations() == []


def _current_code(secret):
    """What an authenticator app shows now, at least five seconds before it changes."""
    if time.time() % 30 > 25:
        time.sleep(30 - time.time() % 30)
    return format_hotp_value(hotp_value(secret, int(time.time()) // 30))


def test_setting_up_the_second_factor_breaks_no_rule(portal, watched_page, settings):
    page, violations = watched_page
    settings.STAFF_MFA_REQUIRED = True
    get_user_model().objects.create_superuser("committee", "c@example.com", "a long passphrase")

    page.goto(portal.url + "/admin/")
    page.get_by_label("Username").fill("committee")
    page.get_by_label("Password").fill("a long passphrase")
    page.get_by_role("button", name="Sign In").click()
    page.get_by_label("Password").fill("a long passphrase")  # allauth asks again
    page.get_by_role("button", name="Confirm").click()
    page.get_by_role("heading", name="Activate Authenticator App").wait_for()
    assert page.locator("img[src^='data:image/svg+xml']").is_visible()  # the QR code
    secret = page.locator("#authenticator_secret").input_value()
    page.get_by_label("Authenticator code").fill(_current_code(secret))
    page.get_by_role("button", name="Activate").click()
    page.get_by_role("heading", name="Recovery Codes").wait_for()
    page.get_by_role("link", name="Continue to the administration").click()
    page.get_by_role("heading", name="Site administration").wait_for()

    assert violations() == []


def test_the_api_docs_break_no_rule(portal, watched_page):
    page, violations = watched_page

    page.goto(portal.url + "/api/v1/docs/")
    page.get_by_text("/api/v1/reps/", exact=True).first.wait_for()

    assert violations() == []


def test_an_injected_inline_script_is_refused(portal, watched_page):
    # The check itself works: a script without the nonce is blocked and reported.
    page, violations = watched_page
    page.goto(portal.url + "/report/")

    page.evaluate(
        "const s = document.createElement('script'); s.textContent = 'window.ran = 1';"
        "document.body.appendChild(s)"
    )

    assert page.evaluate("window.ran") is None
    assert any("script-src" in v for v in violations())
