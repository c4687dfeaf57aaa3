"""Every public page on a 390 px phone, in English and Spanish (issue 17): axe finds
no serious or critical violation and nothing scrolls sideways (WCAG 1.4.10).

The affirmation page in each of its states (pending, with one premise and with
several large commercial premises on a 36-month term; opted in; declined; reported
as spam; provider suspended; timed out), "Stop sharing now" to the end page, the
reads it lists and its ended state, the renewal page (full affirmation and one
click, pending, declined, renewed), the unknown-link page, /providers/, /report/
(empty, refused, thanks), the landing page / and the account's sign-in page.

Set ``PHONE_SHOTS_DIR`` (outside the work tree, e.g. /tmp/phone-shots) to keep a
full-page screenshot of each.
"""

import os
import re
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from django.utils import timezone

from affirmations import services
from affirmations.models import Agreement, AgreementStatus, Disclosure
from csp_registry.models import Csp
from monitoring.services import report_submit
from premises.models import CustomerClass
from smt_portal.actors import Actor
from tests.affirmations.conftest import request_agreement, residential
from tests.browser.checks import overflow, serious_violations
from tests.factories import make_premise
from tests.personas import make_csp

pytestmark = pytest.mark.django_db(transaction=True)
LINK = {kind: re.compile(rf"https?://\S+/{kind}/[A-Za-z0-9_-]+/") for kind in ("affirm", "renew")}
LONG_NAME = "Bright Advice Residential Energy Efficiency Consultants of Texas LLC"
LONG_ADDRESS = "12345 North Mopac Expressway Service Road Northbound, Building C, Austin, TX 78759"
SCOPE_EN = "Energy efficiency advice from your 15-minute usage.\nNothing is sold or shared."
SCOPE_ES = "Consejos de eficiencia energética a partir de su consumo.\nNo se vende ni se comparte."


def _large_commercial():
    """A business premise over the threshold in a complete month before today."""
    month = (timezone.localdate().replace(day=1) - timedelta(days=45)).replace(day=1)
    return make_premise(
        customer_class=CustomerClass.COMMERCIAL, monthly_kwh={month: 20000},
        service_address=LONG_ADDRESS,
    )  # fmt: skip


class Walk:
    """Goes to pages and notes every way one fails the phone checks."""

    def __init__(self, page, axe, language):
        self.page, self.axe, self.language = page, axe, language
        self.problems, self.seen = [], []
        shots = os.environ.get("PHONE_SHOTS_DIR")
        self.shots = Path(shots) if shots else None
        if self.shots:
            self.shots.mkdir(parents=True, exist_ok=True)

    def check(self, name):
        page = self.page
        page.wait_for_load_state("load")
        self.seen.append(name)
        if page.locator("html").get_attribute("lang") != self.language:
            self.problems.append((name, "lang", page.locator("html").get_attribute("lang")))
        if (extra := overflow(page)) > 0:
            self.problems.append((name, "wider than the phone by px", extra))
        if violations := serious_violations(page, self.axe):
            self.problems.append((name, "axe", violations))
        if self.shots:
            page.screenshot(path=str(self.shots / f"{self.language}-{name}.png"), full_page=True)

    def screens_down(self, selector):
        """How many phone screens down the page ``selector`` starts."""
        top = self.page.evaluate(
            f"document.querySelector({selector!r}).getBoundingClientRect().top + window.scrollY"
        )
        return top / self.page.viewport_size["height"]

    def visit(self, url, name):
        self.page.goto(url)
        self.check(name)


def _mailed_link(mailoutbox, kind, agreement):
    """The newest link of ``kind`` emailed about ``agreement``'s request."""
    for message in reversed(mailoutbox):
        if match := LINK[kind].search(message.body):
            if kind == "renew" or agreement.confirmation_code in message.body:
                return match.group(0)
    raise AssertionError(f"no {kind} link emailed")


def _customer():
    return Actor.customer(ip="127.0.0.1", user_agent="tests")


def _opt_in(agreement):
    services.agreement_opt_in(
        agreement=Agreement.objects.get(pk=agreement.pk),
        disclosure=services.disclosure_current(), actor=_customer(), now=timezone.now(),
    )  # fmt: skip


def _in_renewal_window(agreement):
    """Opted in, with 20 days of its term left: a renewal may be asked for now."""
    _opt_in(agreement)
    Agreement.objects.filter(pk=agreement.pk).update(term_end=timezone.now() + timedelta(days=20))
    agreement = Agreement.objects.get(pk=agreement.pk)
    services.agreement_renewal_request(
        agreement=agreement, customer_email=agreement.customer_email,
        actor=Actor.csp(agreement.csp), now=timezone.now(),
    )  # fmt: skip
    return agreement


@pytest.mark.parametrize("language", ["en", "es"])
def test_every_public_page_fits_a_phone_and_passes_axe(page, portal, mailoutbox, axe, language):
    now = timezone.now()
    Disclosure.objects.get_or_create(
        version=1,
        defaults={"text_en": "What you share: usage data.\nYou may end it at any time.",
                  "text_es": "Lo que comparte: datos de consumo.\nPuede terminarlo cuando quiera.",
                  "published_at": now - timedelta(days=30)},
    )  # fmt: skip
    csp = make_csp(legal_name=LONG_NAME, dba_name="Bright Advice", scope_of_use=SCOPE_EN,
                   scope_of_use_es=SCOPE_ES)  # fmt: skip
    report_submit(csp=csp, category="other", description="x", now=now)
    walk = Walk(page, axe, language)
    q = f"?lang={language}"

    def request(*premises, term_months=12, at=None):
        agreement = request_agreement(
            csp, *premises, term_months=term_months, now=at or timezone.now(), language=language
        )
        return agreement, _mailed_link(mailoutbox, "affirm", agreement)

    # The affirmation page: pending, several large commercial premises, 36 months.
    agreement, link = request(_large_commercial(), _large_commercial(), term_months=36)
    walk.visit(link, "affirm-pending")
    assert page.locator("#why-long-term").is_visible()
    assert walk.screens_down("#decide") < 2.5  # two long addresses, 36 months explained
    page.locator("details.disclosures summary").click()  # the disclosures, opened
    walk.check("affirm-pending-disclosures-open")

    # Opted in, then "Changed your mind? Stop sharing now" → the end page → ended.
    agreement, link = request(residential(service_address=LONG_ADDRESS))
    page.goto(link)
    _opt_in(agreement)
    walk.visit(f"{portal.url}/affirm/", "affirm-opted-in")
    page.locator("#stop-sharing-now").click()
    page.wait_for_url(re.compile(r"/end/$"))
    walk.check("end-active")
    walk.visit(f"{portal.url}/end/reads/", "end-reads")  # "See when … read your data"
    page.goto(f"{portal.url}/end/")
    page.locator("#stop-sharing").click()
    page.wait_for_url(re.compile(r"/end/$"))
    assert Agreement.objects.get(pk=agreement.pk).status == AgreementStatus.TERMINATED
    walk.check("end-ended")

    # Declined, and reported as spam, through the page's own buttons.
    agreement, link = request(residential())
    walk.visit(link, "affirm-pending-one-premise")
    assert walk.screens_down("#decide") < 2  # was 3.3 before issue 17
    page.locator("#opt-out-submit").click()
    page.wait_for_load_state("load")
    assert Agreement.objects.get(pk=agreement.pk).status == AgreementStatus.OPTED_OUT
    walk.check("affirm-declined")
    agreement, link = request(residential())
    page.goto(link)
    page.locator("form.spam button").click()
    page.wait_for_load_state("load")
    assert Agreement.objects.get(pk=agreement.pk).status == AgreementStatus.REPORTED_SPAM
    walk.check("affirm-reported-spam")

    # The provider suspended while the request is open; then a request timed out.
    other = make_csp(legal_name="Lone Star Usage Analytics", scope_of_use=SCOPE_EN,
                     scope_of_use_es=SCOPE_ES)  # fmt: skip
    suspended = request_agreement(other, residential(), now=timezone.now(), language=language)
    Csp.objects.filter(pk=other.pk).update(status="suspended")
    walk.visit(_mailed_link(mailoutbox, "affirm", suspended), "affirm-provider-suspended")
    then = timezone.now() - timedelta(days=20)
    with time_machine.travel(then, tick=False):
        agreement, link = request(residential(), at=then)
    walk.visit(link, "affirm-timed-out")

    # The renewal page: full affirmation (pending, declined), one click (pending, renewed).
    _in_renewal_window(request(residential())[0])
    walk.visit(_mailed_link(mailoutbox, "renew", None), "renew-pending-full")
    page.locator("#renew-decline-submit").click()
    page.wait_for_load_state("load")
    walk.check("renew-declined")
    _in_renewal_window(request(_large_commercial(), term_months=24)[0])
    walk.visit(_mailed_link(mailoutbox, "renew", None), "renew-pending-one-click")
    page.locator("#renew-submit").click()
    page.locator("#stop-sharing-now").wait_for()
    walk.check("renew-renewed")

    # The pages anyone reaches.
    walk.visit(f"{portal.url}/affirm/{'B' * 43}/{q}", "link-not-found")
    walk.visit(f"{portal.url}/providers/{q}", "providers")
    walk.visit(f"{portal.url}/report/{q}", "report")
    page.locator("main form button[type=submit]").click()
    page.locator("main p.error[role=alert]").wait_for()
    walk.check("report-refused")
    walk.visit(f"{portal.url}/report/thanks/{q}", "report-thanks")
    walk.visit(f"{portal.url}/{q}", "landing")
    walk.visit(f"{portal.url}/account/login/{q}", "account-sign-in")

    assert walk.problems == []
    assert len(walk.seen) == 22
