"""/end/: the customer (who has no account) ends the sharing with the receipt's link."""

from datetime import timedelta

import pytest
from django.test import Client

from affirmations import services
from affirmations.models import (
    Agreement,
    AgreementLink,
    AgreementStatus,
    EndedBy,
    LinkPurpose,
    Record,
    RecordEvent,
)
from outbox.models import OutboundEmail
from smt_portal.actors import Actor

from .conftest import NOW, large_commercial, link_path, request_agreement, residential

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen", "disclosure")]
WHO = {"actor": Actor.customer(ip="198.51.100.7", user_agent="Tests")}
BROWSER = {"HTTP_USER_AGENT": "Mozilla/5.0 (Phone) Tests", "REMOTE_ADDR": "198.51.100.8"}


def _opted_in(csp, premise=None, **fields):
    agreement = request_agreement(csp, premise or residential(), **fields)
    disclosure = services.disclosure_current()
    return services.agreement_opt_in(agreement=agreement, disclosure=disclosure, now=NOW, **WHO)


def _receipt(kind="receipt_opted_in"):
    return OutboundEmail.objects.filter(kind=kind).latest("pk")


def _open(client, email=None, **extra):
    response = client.get(link_path(email or _receipt(), "end"), **extra)
    assert response.status_code == 302 and response["Location"] == "/end/"
    return AgreementLink.objects.get(purpose=LinkPurpose.TERMINATION).pk


def _terminations():
    return Record.objects.filter(event=RecordEvent.TERMINATED)


@pytest.fixture
def agreement(active_csp):
    return _opted_in(active_csp)


def test_the_opt_in_receipt_links_to_a_page_that_ends_the_sharing_until_the_term_ends(
    agreement,
):
    link = AgreementLink.objects.get(agreement=agreement, purpose=LinkPurpose.TERMINATION)
    assert link.expires_at == agreement.term_end
    # Only the hash is stored; the email row holds a placeholder.
    assert "[[sealed:termination:" in _receipt().body_text


def test_opening_the_link_changes_nothing_and_shows_one_stop_button(client, agreement):
    _open(client)
    page = client.get("/end/").content.decode()

    assert page.count('type="submit"') == 1 and "Stop sharing" in page
    assert agreement.premises.get().esi_id in page
    assert "Bright Advice LLC (Bright Advice LLC)" not in page  # no DBA: the legal name once
    assert f'href="/report/?csp={agreement.csp_id}"' in page
    assert Agreement.objects.get().status == AgreementStatus.ACTIVE
    assert not _terminations().exists()


def test_stopping_ends_the_agreement_for_the_customer_and_records_who(client, agreement):
    link = _open(client)

    response = client.post("/end/confirm/", {"link": link}, **BROWSER)

    assert response.status_code == 302 and response["Location"] == "/end/"
    ended = Agreement.objects.get()
    assert ended.status == AgreementStatus.TERMINATED
    assert ended.ended_by == EndedBy.CUSTOMER and ended.ended_at == NOW
    record = _terminations().get()
    assert record.actor_type == "customer" and record.ip == "198.51.100.8"
    notice = OutboundEmail.objects.get(kind="agreement_terminated")
    assert "at your request" in notice.body_text
    assert "You stopped sharing your data with" in client.get("/end/").content.decode()
    told = OutboundEmail.objects.get(kind="csp_agreement_ended_by_customer")
    assert told.to_address == ended.csp.notice_email


def test_the_link_is_used_once(client, agreement):
    link = _open(client)
    client.post("/end/confirm/", {"link": link})

    assert client.post("/end/confirm/", {"link": link}).status_code == 302
    assert Client().get(link_path(_receipt(), "end")).status_code == 404
    assert _terminations().count() == 1


def test_stopping_needs_the_csrf_token_and_a_post(agreement):
    browser = Client(enforce_csrf_checks=True)
    link = _open(browser)

    assert browser.post("/end/confirm/", {"link": link}).status_code == 403
    assert browser.get("/end/confirm/").status_code == 405
    assert Agreement.objects.get().status == AgreementStatus.ACTIVE


def test_stopping_needs_a_link_this_browser_opened(client, agreement):
    link = AgreementLink.objects.get(purpose=LinkPurpose.TERMINATION).pk
    assert client.post("/end/confirm/", {"link": link}).status_code == 404
    assert client.get("/end/").status_code == 404
    assert Client().get("/end/" + "A" * 43 + "/").status_code == 404
    assert Agreement.objects.get().status == AgreementStatus.ACTIVE


def test_the_link_ends_nothing_after_the_term_ran_out(agreement, frozen):
    frozen.move_to(agreement.term_end + timedelta(seconds=1))  # the sweep has not run yet
    assert Client().get(link_path(_receipt(), "end")).status_code == 404
    link = AgreementLink.objects.get(purpose=LinkPurpose.TERMINATION)
    with pytest.raises(services.AgreementNotOpen):
        services.agreement_end_by_customer(link=link, now=agreement.term_end, **WHO)
    assert Agreement.objects.get().status == AgreementStatus.ACTIVE


def test_a_renewal_keeps_the_old_link_working_and_sends_a_new_one(active_csp):
    agreement = _opted_in(active_csp, large_commercial(), term_months=24)
    in_window = agreement.term_end - timedelta(days=30)  # renewals open 60 days before
    renewal = services.agreement_renewal_request(
        agreement=agreement, customer_email=agreement.customer_email,
        actor=Actor.csp(active_csp), now=in_window,
    )  # fmt: skip
    services.agreement_renew(renewal=renewal, now=in_window, **WHO)

    agreement.refresh_from_db()
    links = AgreementLink.objects.filter(purpose=LinkPurpose.TERMINATION)
    assert links.count() == 2
    assert {link.expires_at for link in links} == {agreement.term_end}
    assert "/end/[[sealed:termination:" in _receipt("receipt_renewed").body_text


def test_the_page_speaks_spanish(client, active_csp):
    _opted_in(active_csp, language="es")
    _open(client)
    assert "Dejar de compartir" in client.get("/end/").content.decode()
    assert "Stop sharing" in client.get("/end/?lang=en").content.decode()
