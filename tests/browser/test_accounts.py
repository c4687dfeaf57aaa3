"""The customer's account in a real browser (issue 14).

The walk-through: sign up, prove the address from the email the outbox sent,
add a premise with its three facts, find an agreement affirmed from another
address, end it, see the CSP's next data call refused, download one's own
data. Then every account page: axe (no serious or critical violation), a
keyboard-only walk, a 390 px screen, in English and Spanish.
"""

import re
import uuid
from datetime import timedelta

import pytest
from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.test import Client
from django.utils import timezone

from accounts.models import PremiseLink
from affirmations import services
from affirmations.models import Agreement, AgreementStatus, Disclosure
from data_access.models import DataAccessLog
from premises.interval_feed import DayReadings, interval_days_upsert
from premises.intervals import intervals_in_day
from smt_portal.actors import Actor
from smt_portal.calendar import CENTRAL
from tests.affirmations.conftest import request_agreement, residential, triple
from tests.browser.checks import overflow, phone_shot, serious_violations, tab_to, tab_until
from tests.data_access.conftest import body_of, read
from tests.personas import api_client_for, make_csp

pytestmark = pytest.mark.django_db(transaction=True)
PHONE = 390
CONFIRM = re.compile(r"https?://\S+/account/confirm-email/\S+/")
LONG_NAME = "Bright Advice Residential Energy Efficiency Consultants of Texas LLC"
LONG_ADDRESS = "12345 North Mopac Expressway Service Road Northbound, Building C, Austin, TX 78759"
PASSWORD = "correct horse battery staple 42"


def _tab_to_link(page, text):
    tab_until(
        page, f"element.tagName === 'A' && element.textContent.trim() === {text!r}", f"“{text}”"
    )


def _store_days(premise, first, last):
    """Stored 15-minute days, as an import writes them."""
    days, day = [], first
    while day <= last:
        days.append(
            DayReadings(esi_id=premise.esi_id, day=day, wh=[100] * intervals_in_day(day),
                        estimated=[], surplus_wh=None, revision_at=timezone.now())
        )  # fmt: skip
        day += timedelta(days=1)
    with transaction.atomic():
        interval_days_upsert(days, now=timezone.now(), batch=uuid.uuid4())


def _disclosure():
    return Disclosure.objects.get_or_create(
        version=1,
        defaults={"text_en": "You share usage data.", "text_es": "Usted comparte datos de consumo.",
                  "published_at": timezone.now()},
    )[0]  # fmt: skip


def _affirmed(csp, premise, *, email):
    """An agreement its customer affirmed by email, from ``email``."""
    agreement = request_agreement(csp, premise, now=timezone.now(), email=email)
    return services.agreement_opt_in(
        agreement=Agreement.objects.get(pk=agreement.pk), disclosure=_disclosure(),
        actor=Actor.customer(ip="198.51.100.20", user_agent="elsewhere"), now=timezone.now(),
    )  # fmt: skip


@pytest.fixture
def home(db):
    """A premise its occupant moved into 60 days ago, with 15-minute data since."""
    today = timezone.now().astimezone(CENTRAL).date()
    premise = residential(service_address=LONG_ADDRESS)
    premise.occupant_since = today - timedelta(days=60)
    premise.save(update_fields=["occupant_since"])
    _store_days(premise, premise.occupant_since, today - timedelta(days=1))
    return premise


@pytest.fixture
def signed_in(page, portal):
    """The browser signed in as an account holding ``premise`` (a session
    cookie, as after sign-in; the sign-in itself is walked in the first test)."""

    def sign_in(premise, *, name="maria"):
        user = get_user_model().objects.create_user(
            username=name, email=f"{name}@example.com", password=PASSWORD
        )
        EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
        PremiseLink.objects.create(user=user, premise=premise, linked_at=timezone.now())
        client = Client()
        client.force_login(user)
        page.context.add_cookies([{
            "name": settings.SESSION_COOKIE_NAME, "url": portal.url,
            "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
        }])  # fmt: skip
        return user

    return sign_in


def _reads_by_two_csps(premise):
    """Reads of the premise as the data endpoints log them: two CSPs, three months."""
    today = timezone.now().astimezone(CENTRAL).date()
    csps = [make_csp(legal_name=LONG_NAME), make_csp(legal_name="Acme Data")]
    rows = []
    for n in range(60):
        csp = csps[n % 2]
        rows.append(DataAccessLog(
            created_at=timezone.now() - timedelta(days=n % 50, minutes=n), csp=csp,
            agreement_id=1, esi_id=premise.esi_id, premise=premise, kind=("intervals", "daily",
            "monthly")[n % 3], format="json", start=today - timedelta(days=30), end=today,
            status_code=200 if n % 10 else 409, days=30, intervals=2880, ip="203.0.113.9",
        ))  # fmt: skip
    DataAccessLog.objects.bulk_create(rows)


# --- The walk-through ----------------------------------------------------------------------


def test_sign_up_add_a_premise_end_an_agreement_made_elsewhere_and_download_my_data(
    page, portal, mailoutbox, home
):
    csp = make_csp(legal_name="Bright Advice LLC")
    agreement = _affirmed(csp, home, email="someone.else@example.net")
    api = api_client_for(csp)
    yesterday = timezone.now().astimezone(CENTRAL).date() - timedelta(days=1)
    assert (
        read(api, agreement, esi_id=home.esi_id, start=yesterday, end=yesterday).status_code == 200
    )

    # Sign up, and prove the address from the email.
    page.goto(f"{portal.url}/account/signup/")
    page.locator("input[name=email]").fill("maria@example.com")
    page.locator("input[name=password1]").fill(PASSWORD)
    page.locator("input[name=password2]").fill(PASSWORD)
    page.locator("main form button[type=submit]").last.click()
    page.wait_for_url(re.compile(r"/account/confirm-email/$"))  # "check your email"
    [proof] = [m for m in mailoutbox if "confirm-email" in m.body]
    assert proof.to == ["maria@example.com"]
    page.goto(CONFIRM.search(proof.body).group(0))
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_url(re.compile(r"/account/$"))  # signed in, on the dashboard

    # Add the premise with the three facts on the bill.
    page.get_by_role("link", name="Add a premise").click()
    esi_id, meter, certificate = triple(home)
    page.get_by_label("ESI ID").fill(esi_id)
    page.get_by_label("Meter number").fill(meter)
    page.get_by_label("Retail electric provider").select_option(value=certificate)
    page.get_by_role("button", name="Add this premise").click()
    page.wait_for_url(re.compile(r"/account/$"))

    # The agreement affirmed from someone else's address is there, the address masked.
    content = page.content()
    assert "Bright Advice LLC" in content and agreement.confirmation_code in content
    assert "someone.else@example.net" not in content and "s***@example.net" in content

    # End it: a confirmation step, one POST, a receipt.
    page.get_by_role("link", name="Stop sharing with Bright Advice LLC").click()
    page.get_by_role("button", name="Stop sharing", exact=True).click()
    page.wait_for_url(re.compile(rf"/account/agreements/{agreement.pk}/ended/$"))
    agreement.refresh_from_db()
    assert agreement.status != AgreementStatus.ACTIVE and agreement.ended_at is not None

    # The CSP's next data call is refused.
    refused = read(api, agreement, esi_id=home.esi_id, start=yesterday, end=yesterday)
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "agreement_not_active"

    # The refusal is on the premise's page of reads; then the customer's own data.
    page.goto(f"{portal.url}/account/")
    page.get_by_role("link", name="Who read this premise's data, and when").click()
    assert "1 attempt to read this data was refused" in page.content()
    page.get_by_role("link", name="Download your own data").click()
    page.get_by_label("15-minute usage").check()
    page.get_by_label("CSV (a spreadsheet)").check()
    page.get_by_label("First day").fill(str(yesterday))
    page.get_by_label("Last day").fill(str(yesterday))
    with page.expect_download() as download:
        page.get_by_role("button", name="Download").click()
    saved = download.value
    assert saved.suggested_filename == f"{esi_id}_intervals_{yesterday}_{yesterday}.csv"
    with open(saved.path(), encoding="utf-8") as handle:
        mine = handle.read()
    assert mine.startswith("ESIID,") and mine.count(esi_id) == 96


# --- The data pages: keyboard, screen readers, phones, Spanish -------------------------------


def test_keyboard_only_from_the_account_to_ending_an_agreement_and_a_green_button_download(
    page, portal, home, signed_in
):
    csp = make_csp(legal_name="Bright Advice LLC")
    agreement = _affirmed(csp, home, email="someone.else@example.net")
    signed_in(home)
    _reads_by_two_csps(home)
    page.goto(f"{portal.url}/account/")

    _tab_to_link(page, "Stop sharing with Bright Advice LLC")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(rf"/agreements/{agreement.pk}/end/$"))
    tab_to(page, "stop-sharing")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(rf"/agreements/{agreement.pk}/ended/$"))
    _tab_to_link(page, "Back to your account")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/account/$"))
    _tab_to_link(page, "Who read this premise's data, and when")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/reads/$"))
    _tab_to_link(page, "Older reads")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"\?page=2$"))
    _tab_to_link(page, "Download your own data")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/download/$"))
    tab_to(page, "id_kind_1")  # the chosen kind: daily
    page.keyboard.press("ArrowUp")  # 15-minute usage
    tab_to(page, "id_format_0")  # the chosen format: CSV
    page.keyboard.press("ArrowDown")  # Green Button XML
    tab_until(page, "element.tagName === 'BUTTON' && element.type === 'submit'", "Download")
    with page.expect_download() as download:
        page.keyboard.press("Enter")

    assert Agreement.objects.get(pk=agreement.pk).ended_at is not None
    assert download.value.suggested_filename.endswith(".xml")
    assert "_intervals_" in download.value.suggested_filename


@pytest.mark.parametrize("language", ["en", "es"])
def test_the_data_pages_have_no_serious_accessibility_violation_and_fit_a_phone(
    page, portal, home, signed_in, axe, language
):
    signed_in(home)
    _reads_by_two_csps(home)
    base = f"{portal.url}/account/premises/{home.pk}"
    too_early = home.occupant_since - timedelta(days=1)

    for number, url in enumerate(
        (
            f"{base}/reads/?lang={language}",
            f"{base}/reads/?page=2",
            f"{base}/download/",
            f"{base}/download/?kind=daily&format=csv&start={too_early}&end={too_early}",
        )
    ):
        page.goto(url)
        phone_shot(page, f"{language}-account-data-{number}")
        assert page.locator("html").get_attribute("lang") == language
        assert page.viewport_size["width"] == PHONE
        assert overflow(page) <= 0, url
        assert serious_violations(page, axe) == [], url

    assert page.locator('[aria-invalid="true"]').count() == 1  # the error state, tied to its field
    page.goto(f"{base}/reads/")
    heading = {"en": "Who read your data", "es": "Quién leyó sus datos"}[language]
    assert page.get_by_role("heading", level=1).inner_text() == heading
    assert page.locator("svg.bar").count() >= 4  # a bar per CSP and month, each with its figure


@pytest.mark.parametrize("language", ["en", "es"])
def test_every_account_page_has_no_serious_accessibility_violation_and_fits_a_phone(
    page, portal, home, signed_in, axe, language
):
    csp = make_csp(legal_name=LONG_NAME)
    agreement = _affirmed(csp, home, email="someone.else@example.net")
    pending = make_csp(legal_name="Acme Data")
    request_agreement(pending, home, now=timezone.now(), email="maria@example.com")
    signed_in(home)

    pages = [
        "/account/",
        "/account/premises/add/",
        f"/account/agreements/{agreement.pk}/",
        f"/account/agreements/{agreement.pk}/end/",
        "/account/email/",
        "/account/password/change/",
        "/account/2fa/",
        "/account/delete/",
    ]
    for path in pages:
        page.goto(f"{portal.url}{path}?lang={language}")
        phone_shot(page, f"{language}{path.replace('/', '-').rstrip('-')}")
        assert page.locator("html").get_attribute("lang") == language, path
        assert overflow(page) <= 0, path
        assert serious_violations(page, axe) == [], path

    page.context.clear_cookies()
    for path in ("/account/login/", "/account/signup/", "/account/password/reset/"):
        page.goto(f"{portal.url}{path}?lang={language}")
        phone_shot(page, f"{language}{path.replace('/', '-').rstrip('-')}")
        assert page.locator("html").get_attribute("lang") == language, path
        assert overflow(page) <= 0, path
        assert serious_violations(page, axe) == [], path


def test_the_download_is_what_the_api_serves(page, portal, home, signed_in, mailoutbox):
    """The file saved from the browser is byte for byte the CSP's CSV."""
    csp = make_csp()
    agreement = _affirmed(csp, home, email="maria@example.com")
    first = home.occupant_since
    last = first + timedelta(days=6)
    served = read(api_client_for(csp), agreement, "daily-usage", esi_id=home.esi_id,
                  start=first, end=last, format="csv")  # fmt: skip
    signed_in(home)

    page.goto(f"{portal.url}/account/premises/{home.pk}/download/")
    page.get_by_label("Daily usage").check()
    page.get_by_label("First day").fill(str(first))
    page.get_by_label("Last day").fill(str(last))
    with page.expect_download() as download:
        page.get_by_role("button", name="Download").click()
    with open(download.value.path(), encoding="utf-8", newline="") as handle:
        assert handle.read() == body_of(served)
