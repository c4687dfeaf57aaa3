"""Nothing overflows a phone screen (390 px): the customer's pages, in English and
Spanish, and every email they are sent on the way (issue 12)."""

import re

import pytest
from django.utils import timezone

from affirmations import services
from affirmations.models import Agreement, Disclosure
from smt_portal.actors import Actor
from tests.affirmations.conftest import request_agreement, residential
from tests.browser.checks import overflow
from tests.personas import make_csp

pytestmark = pytest.mark.django_db(transaction=True)
PHONE = 390
AFFIRM = re.compile(r"https?://\S+/affirm/[A-Za-z0-9_-]+/")
END = re.compile(r"https?://\S+/end/[A-Za-z0-9_-]+/")
LONG_NAME = "Bright Advice Residential Energy Efficiency Consultants of Texas LLC"
LONG_ADDRESS = "12345 North Mopac Expressway Service Road Northbound, Building C, Austin, TX 78759"


def _html(message):
    [(html, _mime)] = message.alternatives
    return html


@pytest.fixture
def story(portal, mailoutbox):
    """A request, its opt-in and receipt, in ``language``: the emailed links and
    every email sent."""

    def make(language):
        now = timezone.now()
        Disclosure.objects.get_or_create(
            version=1,
            defaults={"text_en": "You share usage data.",
                      "text_es": "Usted comparte datos de consumo.", "published_at": now},
        )  # fmt: skip
        csp = make_csp(legal_name=LONG_NAME, dba_name="Bright Advice")
        agreement = request_agreement(
            csp, residential(service_address=LONG_ADDRESS), now=now, language=language
        )
        services.agreement_opt_in(
            agreement=Agreement.objects.get(pk=agreement.pk),
            disclosure=services.disclosure_current(),
            actor=Actor.customer(ip="127.0.0.1", user_agent="tests"),
            now=timezone.now(),
        )
        [receipt] = [m for m in mailoutbox if "/end/" in m.body]
        return {
            "agreement": agreement,
            "end": END.search(receipt.body).group(0),
            "emails": list(mailoutbox),
        }

    return make


def _reads_logged(agreement):
    """Three reads by the agreement's CSP, as the data endpoints log them."""
    from datetime import timedelta

    from data_access.models import DataAccessLog

    premise = agreement.premises.get()
    today = timezone.localdate()
    for days, kind in ((365, "intervals"), (30, "daily"), (1, "monthly")):
        DataAccessLog.objects.create(
            created_at=timezone.now(), csp_id=agreement.csp_id, agreement_id=agreement.pk,
            esi_id=premise.esi_id, premise_id=premise.premise_id, kind=kind, format="json",
            start=today - timedelta(days=days), end=today, status_code=200, days=days,
            intervals=days * 96, ip="203.0.113.9",
        )  # fmt: skip


@pytest.mark.parametrize("language", ["en", "es"])
def test_the_customers_pages_and_emails_fit_a_phone(page, portal, story, language):
    told = story(language)
    assert page.viewport_size["width"] == PHONE

    for email in told["emails"]:
        page.set_content(_html(email))
        assert overflow(page) <= 0, email.subject

    page.goto(told["end"])
    assert page.url.endswith("/end/")
    assert overflow(page) <= 0, page.url
    _reads_logged(told["agreement"])
    page.goto(f"{portal.url}/end/reads/")
    assert page.locator("table.reads tbody tr").count() == 3
    assert overflow(page) <= 0, page.url
    for path in ("/report/", "/providers/"):
        page.goto(f"{portal.url}{path}?lang={language}")
        assert f'lang="{language}"' in page.content()
        assert overflow(page) <= 0, page.url


@pytest.mark.parametrize("language", ["en", "es"])
def test_the_affirmation_page_fits_a_phone(page, portal, mailoutbox, language):
    now = timezone.now()
    Disclosure.objects.create(
        version=1, text_en="You share usage data.", text_es="Usted comparte datos.",
        published_at=now,
    )  # fmt: skip
    csp = make_csp(legal_name=LONG_NAME)
    request_agreement(csp, residential(service_address=LONG_ADDRESS), now=now, language=language)
    [request] = mailoutbox

    page.goto(AFFIRM.search(request.body).group(0))

    assert f'<html lang="{language}">' in page.content()
    assert page.get_by_role("button").count() >= 3
    assert overflow(page) <= 0
