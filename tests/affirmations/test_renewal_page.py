"""/renew/: one button for large commercial, the full affirmation otherwise (R12)."""

from datetime import timedelta

import pytest
from django.test import Client

from affirmations import services
from affirmations.models import Agreement, AgreementLink, EndedBy, Renewal, RenewalStatus
from outbox.models import OutboundEmail
from smt_portal.actors import Actor

from .conftest import (
    DEADLINE,
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
BROWSER = {"HTTP_USER_AGENT": "Phone", "REMOTE_ADDR": "198.51.100.9"}


def _renewal_for(agreement):
    return services.agreement_renewal_request(
        agreement=agreement,
        customer_email=agreement.customer_email,
        actor=Actor.csp(agreement.csp),
        now=NOW,  # in the last 60 days of the term
    )


def _open(client, renewal):
    open_emailed_link(client, OutboundEmail.objects.get(kind="renewal_request"), "renew")
    return AgreementLink.objects.get(renewal=renewal).pk


@pytest.fixture
def one_click(active_csp):
    agreement = make_renewable(request_agreement(active_csp, large_commercial(), term_months=24))
    return _renewal_for(agreement)


@pytest.fixture
def full(active_csp):
    agreement = make_renewable(request_agreement(active_csp, residential(), term_months=12))
    return _renewal_for(agreement)


def test_the_one_click_page_shows_a_single_renew_button_and_a_get_renews_nothing(client, one_click):
    response = client.get("/renew/" + "B" * 43 + "/")
    assert response.status_code == 404
    _open(client, one_click)

    page = client.get("/renew/")

    html = page.content.decode()
    assert page["Referrer-Policy"] == "same-origin" and page["Cache-Control"] == "no-store"
    assert html.count(">Renew</button>") == 1
    assert "<altcha-widget" not in html and "acknowledge" not in html
    assert "Saturday, December 23, 2028" in html  # the new end, shown before deciding
    one_click.refresh_from_db()
    assert one_click.status == RenewalStatus.PENDING
    assert Agreement.objects.get().renewal_count == 0


def test_one_click_renews_with_no_further_verification(client, one_click):
    link = _open(client, one_click)
    response = client.post("/renew/confirm/", {"link": link}, **BROWSER)
    assert response.status_code == 302
    assert Agreement.objects.get().renewal_count == 1
    assert "You renewed sharing with" in client.get("/renew/").content.decode()


def test_a_full_renewal_needs_the_acknowledgement_and_the_challenge(client, full):
    link = _open(client, full)
    page = client.get("/renew/").content.decode()
    assert "<altcha-widget" in page and "Disclosures (version 3)" in page

    refused = client.post("/renew/confirm/", {"link": link, "disclosure_version": 3}, **BROWSER)
    assert refused.status_code == 400
    assert Renewal.objects.get().status == RenewalStatus.PENDING

    client.post(
        "/renew/confirm/",
        {"link": link, "disclosure_version": 3, "acknowledge": "on", "altcha": solved_challenge()},
        **BROWSER,
    )
    renewal = Renewal.objects.get()
    assert renewal.status == RenewalStatus.RENEWED and renewal.disclosure.version == 3


def test_a_timed_out_renewal_link_says_so(client, one_click, frozen):
    frozen.move_to(DEADLINE + timedelta(seconds=1))
    link = _open(client, one_click)
    assert "This renewal link timed out" in client.get("/renew/").content.decode()
    client.post("/renew/confirm/", {"link": link})
    assert Agreement.objects.get().renewal_count == 0


def test_a_renewal_whose_term_was_renewed_meanwhile_offers_nothing(client, one_click):
    link = _open(client, one_click)
    # Another path renewed this term since the link was sent: it must not stack.
    renewed_end = one_click.agreement.term_end + timedelta(days=730)
    Agreement.objects.filter(pk=one_click.agreement_id).update(term_end=renewed_end)

    assert ">Renew</button>" not in client.get("/renew/").content.decode()
    client.post("/renew/confirm/", {"link": link})
    assert Agreement.objects.get().term_end == renewed_end
    assert Renewal.objects.get().status == RenewalStatus.PENDING


def test_a_renewal_of_an_agreement_that_ended_meanwhile_shows_a_clear_page(client, one_click):
    link = _open(client, one_click)
    services.agreement_terminate(
        agreement=one_click.agreement,
        ended_by=EndedBy.CUSTOMER,
        reason="",
        actor=Actor.system(),
        now=one_click.requested_at,
    )
    assert "has ended and cannot be renewed" in client.get("/renew/").content.decode()
    client.post("/renew/confirm/", {"link": link})
    assert Agreement.objects.get().renewal_count == 0
    assert Client().get("/renew/").status_code == 404


def test_declining_keeps_the_current_term(client, one_click):
    link = _open(client, one_click)
    client.post("/renew/decline/", {"link": link})
    assert Renewal.objects.get().status == RenewalStatus.DECLINED
    assert "You did not renew" in client.get("/renew/").content.decode()


def test_the_renewal_page_speaks_spanish(client, one_click):
    _open(client, one_click)
    html = client.get("/renew/", {"lang": "es"}).content.decode()
    assert ">Renovar</button>" in html and "diciembre de 2028" in html
