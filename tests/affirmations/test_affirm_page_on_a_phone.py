"""The customer's page read on a phone (issue 17): the decision right after the
facts, the disclosures one tap away, plain words for "ESI ID" and "CSP", one
decision for several premises, why a 36-month term is allowed, agree and
decline as equals, and "Changed your mind? Stop sharing now" once opted in."""

import re

import pytest
from django.test import Client

from affirmations import services
from affirmations.models import AgreementLink, AgreementStatus, LinkPurpose
from outbox.models import OutboundEmail
from smt_portal.actors import Actor

from .conftest import (
    NOW,
    large_commercial,
    make_renewable,
    open_emailed_link,
    request_agreement,
    residential,
    solved_challenge,
)

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("frozen", "cheap_altcha", "disclosure"),
]
BROWSER = {"HTTP_USER_AGENT": "Mozilla/5.0 (Phone) Tests", "REMOTE_ADDR": "198.51.100.7"}


def _opened(client, agreement, lang="en"):
    open_emailed_link(client, OutboundEmail.objects.get(related_label=f"agreement:{agreement.pk}"))
    return AgreementLink.objects.get(agreement=agreement, purpose=LinkPurpose.AFFIRMATION).pk


def _page(client, lang="en"):
    response = client.get(f"/affirm/?lang={lang}")
    assert response.status_code == 200
    return response.content.decode()


def _opt_in(client, link):
    data = {"link": link, "acknowledge": "on", "disclosure_version": 3,
            "altcha": solved_challenge()}  # fmt: skip
    response = client.post("/affirm/opt-in/", data, **BROWSER)
    assert response.status_code == 302
    return response


def test_the_decision_comes_right_after_the_facts_with_the_disclosures_in_a_details(
    client, active_csp
):
    _opened(client, request_agreement(active_csp, residential()))

    html = _page(client)

    facts, decision = html.index('<dl class="facts">'), html.index('id="decide"')
    disclosures = html.index("You may end it at any time.")
    assert facts < decision < disclosures  # the decision is not below the disclosures
    details = html.index('<details class="disclosures"')
    assert details < disclosures < html.index("</details>", details)
    assert details < html.index('id="id_acknowledge"')  # read right before acknowledging


def test_the_facts_do_not_repeat_what_the_disclosures_say(client, active_csp):
    _opened(client, request_agreement(active_csp, residential()))

    html = _page(client)

    assert "If you do nothing, nothing is shared." not in html
    assert html.count("15-minute interval usage, daily usage and monthly usage") == 1


def test_agree_and_decline_are_buttons_of_equal_style_side_by_side(client, active_csp):
    _opened(client, request_agreement(active_csp, residential()))

    html = _page(client)

    start = html.index('<div class="choices">')
    choices = html[start : html.index("</div>", start)]
    buttons = re.findall(r"<button [^>]*>[^<]*</button>", choices)
    assert len(buttons) == 2
    assert all('class="choice"' in b for b in buttons)
    assert "Agree and share my data" in buttons[0] and "No, do not share my data" in buttons[1]
    assert 'form="opt-out-form"' in buttons[1] and 'id="opt-out-form"' in html


@pytest.mark.parametrize(
    ("lang", "esi", "csp"),
    [
        ("en", "ESI ID: the number that identifies", "CSP (Competitive Service Provider): a"),
        ("es", "ESI ID: el número que identifica", "CSP (Proveedor de Servicios Competitivos):"),
    ],
)
def test_esi_id_and_csp_are_explained_in_one_line_each(client, active_csp, lang, esi, csp):
    _opened(client, request_agreement(active_csp, residential(), language=lang))

    html = _page(client, lang)

    assert esi in html and csp in html


def test_one_decision_covers_all_the_premises_of_a_request(client, active_csp):
    _opened(client, request_agreement(active_csp, residential(), residential(), residential()))

    assert "One decision covers all 3 premises." in _page(client)
    assert "Una sola decisión vale para los 3 inmuebles." in _page(client, "es")


def test_a_single_premise_is_not_told_about_all_premises(client, active_csp):
    _opened(client, request_agreement(active_csp, residential()))

    assert "One decision covers" not in _page(client)


def test_a_36_month_request_says_why_36_months_is_allowed(client, active_csp):
    agreement = request_agreement(
        active_csp, large_commercial(), large_commercial(), term_months=36
    )
    _opened(client, agreement)

    html = _page(client)

    assert "36 months: if you agree now" in html
    assert "Why 36 months is allowed: every premise here is large commercial" in html
    assert "at least 15,000 kWh" in html and "everyone else for at most 12" in html
    spanish = _page(client, "es")
    assert "Por qué se permiten 36 meses" in spanish and "al menos 15.000 kWh" in spanish


def test_a_standard_term_needs_no_explanation(client, active_csp):
    _opened(client, request_agreement(active_csp, large_commercial(), term_months=12))

    assert "is allowed" not in _page(client)


# --- After opting in: "Changed your mind? Stop sharing now" ------------------------------


def test_after_opting_in_the_page_offers_to_stop_sharing_through_the_end_page(client, active_csp):
    agreement = request_agreement(active_csp, residential())
    link = _opened(client, agreement)
    _opt_in(client, link)

    html = _page(client)

    assert "Changed your mind?" in html and "Stop sharing now" in html
    stop = re.search(r'href="(/affirm/stop/\?link=\d+)"', html).group(1)
    response = client.get(stop)
    assert response.status_code == 302 and response["Location"] == "/end/"
    assert response["Referrer-Policy"] == "same-origin"
    end = client.get("/end/").content.decode()
    assert 'id="stop-sharing"' in end  # the customer still confirms there
    agreement.refresh_from_db()
    assert agreement.status == AgreementStatus.ACTIVE  # a GET ended nothing

    client.post("/end/confirm/", {"link": client.session["termination_current"]}, **BROWSER)
    agreement.refresh_from_db()
    assert agreement.status == AgreementStatus.TERMINATED


def test_the_stop_link_opens_nothing_for_a_browser_that_never_opened_the_email(client, active_csp):
    agreement = request_agreement(active_csp, residential())
    link = _opened(client, agreement)
    _opt_in(client, link)

    stranger = Client()
    response = stranger.get(f"/affirm/stop/?link={link}")

    assert response.status_code == 404
    assert "termination_links" not in stranger.session
    for bad in ("", "x", str(link + 1000)):
        assert client.get(f"/affirm/stop/?link={bad}").status_code == 404


def test_declining_offers_nothing_to_stop(client, active_csp):
    agreement = request_agreement(active_csp, residential())
    link = _opened(client, agreement)
    client.post("/affirm/opt-out/", {"link": link}, **BROWSER)

    html = _page(client)

    assert "You declined" in html and "Stop sharing now" not in html
    assert client.get(f"/affirm/stop/?link={link}")["Location"] == "/affirm/"


def test_after_renewing_the_page_offers_to_stop_sharing_too(client, active_csp):
    agreement = make_renewable(request_agreement(active_csp, large_commercial(), term_months=24))
    renewal = services.agreement_renewal_request(
        agreement=agreement, customer_email=agreement.customer_email,
        actor=Actor.csp(agreement.csp), now=NOW,
    )  # fmt: skip
    open_emailed_link(client, OutboundEmail.objects.get(kind="renewal_request"), "renew")
    link = AgreementLink.objects.get(renewal=renewal).pk
    client.post("/renew/confirm/", {"link": link}, **BROWSER)

    html = client.get("/renew/").content.decode()

    assert "You renewed sharing" in html and "Stop sharing now" in html
    response = client.get(f"/renew/stop/?link={link}")
    assert response.status_code == 302 and response["Location"] == "/end/"
    assert 'id="stop-sharing"' in client.get("/end/").content.decode()
