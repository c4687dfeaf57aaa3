"""The customer's pages in a real browser: from the email to a decision.

Each test creates a request through the service (as the API does), takes the
link from the email the outbox actually sent, and opens it in Chromium. The
bot challenge is solved by the real ALTCHA widget (cheap in tests).
"""

import re
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from affirmations.models import Agreement, AgreementStatus, Disclosure, Record, RecordEvent
from tests.affirmations.conftest import request_agreement, residential
from tests.browser.checks import serious_violations, tab_to
from tests.personas import make_csp

pytestmark = pytest.mark.django_db(transaction=True)
LINK = re.compile(r"https?://\S+/affirm/[A-Za-z0-9_-]+/")


@pytest.fixture
def emailed_link(portal, mailoutbox):
    """Make a request (now, or ``days_ago``) and return the link its email carried."""

    def make(*, language="en", days_ago=0):
        now = timezone.now() - timedelta(days=days_ago)
        Disclosure.objects.get_or_create(
            version=1,
            defaults={
                "text_en": "You share usage data.",
                "text_es": "Usted comparte datos de consumo.",
                "published_at": now,
            },
        )
        csp = make_csp(scope_of_use="Energy efficiency advice.\nNothing is sold.")
        # Requested and emailed at that moment, as the worker would have sent it then.
        with time_machine.travel(now, tick=False):
            request_agreement(csp, residential(), now=now, language=language)
        [email] = [m for m in mailoutbox if "affirm/" in m.body]
        return LINK.search(email.body).group(0)

    return make


def _solve_challenge(page):
    """What a person does: tick the widget's box and wait for its tick."""
    page.get_by_text("I'm not a robot").click()
    page.locator('.altcha[data-state="verified"]').wait_for()


def test_from_the_email_to_an_opt_in(page, emailed_link):
    page.goto(emailed_link())

    assert page.url.endswith("/affirm/")  # the token left the address bar
    assert (
        page.get_by_role("heading", level=1)
        .inner_text()
        .endswith("asks to read your smart-meter data")
    )
    assert not page.locator("#id_acknowledge").is_checked()
    page.get_by_label("I have read the disclosures").check()
    _solve_challenge(page)
    page.get_by_role("button", name="Agree and share my data").click()

    page.get_by_role("heading", name=re.compile("You agreed to share")).wait_for()
    assert "How to end the sharing later" in page.content()
    agreement = Agreement.objects.get()
    assert agreement.status == AgreementStatus.ACTIVE
    record = Record.objects.get(event=RecordEvent.OPTED_IN)
    assert record.ip == "127.0.0.1" and "Chrome" in record.user_agent
    assert record.details["disclosure_version"] == 1


def test_opting_in_without_solving_the_challenge_records_nothing(page, emailed_link):
    page.goto(emailed_link())
    page.get_by_label("I have read the disclosures").check()
    # The widget's own checkbox is required: remove it as a bot would, then submit.
    page.evaluate("document.querySelector('altcha-widget').remove()")
    page.get_by_role("button", name="Agree and share my data").click()
    page.get_by_role("alert").wait_for()
    assert "not a robot" in page.get_by_role("alert").inner_text()
    assert Agreement.objects.get().status == AgreementStatus.PENDING_AFFIRMATION


def test_opting_out(page, emailed_link):
    page.goto(emailed_link())
    page.get_by_role("button", name="No, do not share my data").click()
    page.get_by_role("heading", name=re.compile("You declined")).wait_for()
    assert Agreement.objects.get().status == AgreementStatus.OPTED_OUT


def test_reporting_spam(page, emailed_link):
    page.goto(emailed_link())
    page.get_by_role("button", name="I did not ask for this: report spam").click()
    page.get_by_role("heading", name="Thank you for reporting this request").wait_for()
    assert Agreement.objects.get().status == AgreementStatus.REPORTED_SPAM


def test_a_timed_out_link_says_so(page, emailed_link):
    page.goto(emailed_link(days_ago=20))
    assert page.get_by_role("heading", level=1).inner_text() == "This request timed out"
    assert page.get_by_role("button").count() == 0


def test_the_spanish_page_and_its_language_switch(page, emailed_link):
    page.goto(emailed_link(language="es"))
    assert page.locator("html").get_attribute("lang") == "es"
    assert "pide leer los datos de su medidor inteligente" in page.content()
    assert page.get_by_role("button", name="Acepto y comparto mis datos").is_visible()
    page.get_by_role("link", name="English").click()
    assert page.url.endswith("/affirm/?lang=en")
    assert page.get_by_role("button", name="Agree and share my data").is_visible()


def test_keyboard_only_opt_in(page, emailed_link):
    page.goto(emailed_link())
    tab_to(page, "id_acknowledge")
    page.keyboard.press("Space")
    tab_to(page, "altcha-checkbox-id_altcha")
    page.keyboard.press("Space")
    page.locator('.altcha[data-state="verified"]').wait_for()
    tab_to(page, "opt-in-submit")
    page.keyboard.press("Enter")
    page.get_by_role("heading", name=re.compile("You agreed to share")).wait_for()
    assert Agreement.objects.get().status == AgreementStatus.ACTIVE


def test_no_serious_or_critical_accessibility_violation(page, emailed_link, axe):
    page.goto(emailed_link())
    assert serious_violations(page, axe) == []
    page.get_by_label("I have read the disclosures").check()
    page.evaluate("document.querySelector('altcha-widget').remove()")
    page.get_by_role("button", name="Agree and share my data").click()  # the error state
    page.get_by_role("alert").wait_for()
    assert serious_violations(page, axe) == []
    page.get_by_role("button", name="No, do not share my data").click()
    page.get_by_role("heading", name=re.compile("You declined")).wait_for()
    assert serious_violations(page, axe) == []
