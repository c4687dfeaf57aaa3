"""/affirm/: the emailed link, the page, and the three decisions (R5–R10, R13)."""

from datetime import timedelta

import pytest
from django.test import Client

from affirmations.models import (
    Agreement,
    AgreementLink,
    AgreementPremise,
    AgreementStatus,
    Disclosure,
    Record,
    RecordEvent,
)
from csp_registry.models import CspStatus
from outbox.models import OutboundEmail

from .conftest import (
    DEADLINE,
    NOW,
    link_path,
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


@pytest.fixture
def agreement(active_csp):
    return request_agreement(active_csp, residential(service_address="12 Elm St, Austin, TX"))


def _email():
    return OutboundEmail.objects.get(kind="affirmation_request")


def _opened(client, agreement):
    open_emailed_link(client, OutboundEmail.objects.get(related_label=f"agreement:{agreement.pk}"))
    return AgreementLink.objects.get(agreement=agreement).pk


def _opt_in(client, link, **data):
    fields = {
        "link": link,
        "acknowledge": "on",
        "disclosure_version": 3,
        "altcha": solved_challenge(),
        **data,
    }
    return client.post(
        "/affirm/opt-in/", {k: v for k, v in fields.items() if v is not None}, **BROWSER
    )


def _decisions():
    return Record.objects.filter(
        event__in=[RecordEvent.OPTED_IN, RecordEvent.OPTED_OUT, RecordEvent.REPORTED_SPAM]
    )


# --- The link and the page -------------------------------------------------------------


def test_the_link_moves_its_token_into_the_session_and_changes_nothing(client, agreement):
    records = Record.objects.count()

    response = client.get(link_path(_email()))

    assert response.status_code == 302
    assert response["Location"] == "/affirm/"
    assert response["Referrer-Policy"] == "no-referrer"
    assert response["Cache-Control"] == "no-store"
    page = client.get("/affirm/")
    assert page.status_code == 200
    assert page["Referrer-Policy"] == "same-origin"  # the token is gone; CSRF needs an Origin
    assert page["Cache-Control"] == "no-store"
    agreement.refresh_from_db()
    assert agreement.status == AgreementStatus.PENDING_AFFIRMATION
    assert agreement.decided_at is None
    assert Record.objects.count() == records


def test_the_page_shows_everything_the_customer_decides_on(client, active_csp, agreement):
    active_csp.scope_of_use = "We advise on <efficiency>.\nNothing is sold."
    active_csp.save()
    _opened(client, agreement)

    page = client.get("/affirm/").content.decode()

    assert active_csp.display_name in page and active_csp.legal_name in page
    assert "We advise on &lt;efficiency&gt;.\nNothing is sold." in page  # word for word
    premise = AgreementPremise.objects.get(agreement=agreement)
    assert premise.esi_id in page and "12 Elm St, Austin, TX" in page
    assert "15-minute interval usage, daily usage and monthly usage" in page
    assert "12 months: if you agree now, sharing ends at" in page
    assert "Tuesday, November 23, 2027" in page  # the term's end if agreed now
    assert "11:59 p.m. Central Standard Time on Monday, November 30, 2026" in page
    assert agreement.confirmation_code in page
    assert "Disclosures (version 3)" in page and "You may end it at any time." in page
    assert "<altcha-widget" in page
    assert 'action="/affirm/opt-in/"' in page
    assert 'action="/affirm/opt-out/"' in page
    assert 'action="/affirm/report-spam/"' in page


def test_the_acknowledgement_is_never_ticked_in_advance(client, agreement):
    link = _opened(client, agreement)
    for page in (client.get("/affirm/"), _opt_in(client, link, altcha=None)):
        html = page.content.decode()
        checkbox = html[html.index('name="acknowledge"') - 40 : html.index("aria-describedby")]
        assert "checked" not in checkbox


def test_the_newest_disclosures_are_shown(client, agreement):
    Disclosure.objects.create(
        version=4, text_en="Version four.", text_es="Cuatro.", published_at=NOW
    )
    _opened(client, agreement)
    page = client.get("/affirm/").content.decode()
    assert "Version four." in page and 'name="disclosure_version" value="4"' in page


@pytest.mark.parametrize("token", ["A" * 43, "short", "x" * 150, "%00", "..%2F.."])
def test_an_unknown_or_malformed_token_shows_one_neutral_404(client, active_csp, token):
    request_agreement(active_csp, residential())
    response = client.get(f"/affirm/{token}/")
    assert response.status_code == 404
    assert active_csp.display_name not in response.content.decode()
    assert "This link does not open anything" in response.content.decode()


def test_the_page_without_an_opened_link_is_the_same_neutral_404(client, agreement):
    response = client.get("/affirm/")
    assert response.status_code == 404
    assert "This link does not open anything" in response.content.decode()


def test_a_used_link_opens_nothing_in_another_browser(client, agreement):
    link = _opened(client, agreement)
    client.post("/affirm/opt-out/", {"link": link})

    assert Client().get(link_path(_email())).status_code == 404
    # …while the browser that decided still sees its decision.
    assert client.get(link_path(_email())).status_code == 302


def test_a_timed_out_request_says_so_with_its_deadline_before_the_sweep(client, agreement, frozen):
    frozen.move_to(DEADLINE + timedelta(seconds=1))
    open_emailed_link(client, _email())

    response = client.get("/affirm/")

    assert response.status_code == 410
    page = response.content.decode()
    assert "This request timed out" in page
    assert "11:59 p.m. Central Standard Time on Monday, November 30, 2026" in page
    assert "opt-in" not in page


def test_a_timed_out_request_cannot_be_opted_into(client, agreement, frozen):
    link = _opened(client, agreement)
    frozen.move_to(DEADLINE + timedelta(seconds=1))
    _opt_in(client, link)
    assert Agreement.objects.get().status == AgreementStatus.PENDING_AFFIRMATION
    assert not _decisions().exists()


def test_a_suspended_provider_cannot_be_opted_into_but_can_be_refused(
    client, active_csp, agreement
):
    link = _opened(client, agreement)
    active_csp.status = CspStatus.SUSPENDED
    active_csp.save()

    page = client.get("/affirm/").content.decode()
    assert "is suspended by the portal and cannot be opted into now" in page
    assert "opt-in-form" not in page

    _opt_in(client, link)
    assert Agreement.objects.get().status == AgreementStatus.PENDING_AFFIRMATION
    client.post("/affirm/opt-out/", {"link": link})
    assert Agreement.objects.get().status == AgreementStatus.OPTED_OUT


def test_a_revoked_provider_cannot_be_opted_into(client, active_csp, agreement):
    link = _opened(client, agreement)
    Agreement.objects.update(status=AgreementStatus.REVOKED)
    active_csp.status = CspStatus.REVOKED
    active_csp.save()

    page = client.get("/affirm/").content.decode()
    assert "can no longer be opted into" in page
    _opt_in(client, link)
    assert Agreement.objects.get().status == AgreementStatus.REVOKED


# --- Opting in ---------------------------------------------------------------------------


def test_opting_in_records_the_decision_and_says_how_to_end_it(client, agreement):
    link = _opened(client, agreement)

    response = _opt_in(client, link)

    assert response.status_code == 302 and response["Location"] == "/affirm/"
    agreement.refresh_from_db()
    assert agreement.status == AgreementStatus.ACTIVE
    assert agreement.affirmed_at == NOW and agreement.decided_at == NOW
    assert agreement.disclosure.version == 3
    record = _decisions().get()
    assert record.event == RecordEvent.OPTED_IN
    assert record.ip == "198.51.100.7"
    assert record.user_agent == "Mozilla/5.0 (Phone) Tests"
    assert record.details["disclosure_version"] == 3
    page = client.get("/affirm/").content.decode()
    assert "You agreed to share your data with" in page
    assert "How to end the sharing later" in page and '"Stop sharing" button' in page
    assert f'href="/report/?csp={agreement.csp_id}"' in page
    assert OutboundEmail.objects.filter(kind="receipt_opted_in").exists()


def test_a_forwarded_for_header_set_by_the_client_is_not_believed(client, agreement):
    link = _opened(client, agreement)
    client.post(
        "/affirm/opt-in/",
        {"link": link, "acknowledge": "on", "disclosure_version": 3, "altcha": solved_challenge()},
        HTTP_X_FORWARDED_FOR="1.2.3.4",
        REMOTE_ADDR="198.51.100.8",
    )
    assert _decisions().get().ip == "198.51.100.8"


def test_opting_in_without_the_acknowledgement_records_nothing(client, agreement):
    link = _opened(client, agreement)
    response = _opt_in(client, link, acknowledge=None)
    assert response.status_code == 400
    assert "Tick the box to confirm you read the disclosures" in response.content.decode()
    assert Agreement.objects.get().status == AgreementStatus.PENDING_AFFIRMATION
    assert not _decisions().exists()


@pytest.mark.parametrize(
    ("solution", "message"),
    [
        (lambda: None, "Tick “I&#x27;m not a robot” and wait for the tick"),
        (lambda: "bm90IGpzb24=", "did not succeed"),
        (lambda: solved_challenge(hmac_secret="someone else"), "did not succeed"),
        (lambda: solved_challenge(expires_at=NOW - timedelta(seconds=1)), "expired"),
    ],
    ids=["missing", "malformed", "tampered", "expired"],
)
def test_a_bad_challenge_shows_the_form_again_and_records_nothing(
    client, agreement, solution, message
):
    link = _opened(client, agreement)

    response = _opt_in(client, link, altcha=solution())

    assert response.status_code == 400
    assert message in response.content.decode()
    assert "<altcha-widget" in response.content.decode()
    assert Agreement.objects.get().status == AgreementStatus.PENDING_AFFIRMATION
    assert not _decisions().exists()


def test_a_replayed_challenge_is_refused(client, active_csp, agreement):
    other = request_agreement(active_csp, residential(), email="other@example.com")
    used = solved_challenge()
    link = _opened(client, agreement)
    _opt_in(client, link, altcha=used)
    other_client = Client()
    other_link = _opened(other_client, other)

    response = _opt_in(other_client, other_link, altcha=used)

    assert response.status_code == 400
    assert "already used" in response.content.decode()
    assert Agreement.objects.get(pk=other.pk).status == AgreementStatus.PENDING_AFFIRMATION


def test_disclosures_published_while_the_page_was_open_must_be_read_again(client, agreement):
    link = _opened(client, agreement)
    Disclosure.objects.create(
        version=4, text_en="Version four.", text_es="Cuatro.", published_at=NOW
    )

    response = _opt_in(client, link, disclosure_version=3)

    assert response.status_code == 409
    assert "Version four." in response.content.decode()
    assert "were updated while this page was open" in response.content.decode()
    assert Agreement.objects.get().status == AgreementStatus.PENDING_AFFIRMATION


# --- Declining, reporting, and a second attempt -----------------------------------------------


def test_opting_out_records_a_refusal(client, agreement):
    link = _opened(client, agreement)
    response = client.post("/affirm/opt-out/", {"link": link}, **BROWSER)
    assert response.status_code == 302
    agreement.refresh_from_db()
    assert agreement.status == AgreementStatus.OPTED_OUT
    assert _decisions().get().event == RecordEvent.OPTED_OUT
    assert "You declined the request of" in client.get("/affirm/").content.decode()


def test_reporting_spam_is_recorded_apart_from_an_opt_out(client, agreement):
    link = _opened(client, agreement)
    client.post("/affirm/report-spam/", {"link": link}, **BROWSER)
    agreement.refresh_from_db()
    assert agreement.status == AgreementStatus.REPORTED_SPAM
    assert _decisions().get().event == RecordEvent.REPORTED_SPAM
    assert "Thank you for reporting this request" in client.get("/affirm/").content.decode()


@pytest.mark.parametrize("second", ["/affirm/opt-in/", "/affirm/opt-out/", "/affirm/report-spam/"])
def test_a_second_attempt_shows_the_decision_already_made(client, agreement, second):
    link = _opened(client, agreement)
    _opt_in(client, link)

    response = client.post(
        second,
        {"link": link, "acknowledge": "on", "disclosure_version": 3, "altcha": solved_challenge()},
    )

    assert response.status_code == 302
    page = client.get("/affirm/").content.decode()
    assert "This request was already answered" in page
    assert "You agreed to share your data with" in page
    assert _decisions().count() == 1
    assert Agreement.objects.get().status == AgreementStatus.ACTIVE


def test_each_action_needs_the_csrf_token(agreement):
    browser = Client(enforce_csrf_checks=True)
    link = _opened(browser, agreement)
    for action in ("/affirm/opt-in/", "/affirm/opt-out/", "/affirm/report-spam/"):
        assert browser.post(action, {"link": link}).status_code == 403
    assert Agreement.objects.get().status == AgreementStatus.PENDING_AFFIRMATION


def test_the_actions_refuse_a_get(client, agreement):
    _opened(client, agreement)
    for action in ("/affirm/opt-in/", "/affirm/opt-out/", "/affirm/report-spam/"):
        assert client.get(action).status_code == 405
    assert Agreement.objects.get().status == AgreementStatus.PENDING_AFFIRMATION


def test_a_decision_needs_a_link_this_browser_opened(client, agreement):
    link = AgreementLink.objects.get(agreement=agreement).pk
    assert client.post("/affirm/opt-out/", {"link": link}).status_code == 404
    assert Agreement.objects.get().status == AgreementStatus.PENDING_AFFIRMATION


def test_two_requests_in_two_tabs_are_each_decided_on_their_own(client, active_csp, agreement):
    other = request_agreement(active_csp, residential())
    first = _opened(client, agreement)
    _opened(client, other)

    client.post("/affirm/opt-out/", {"link": first})

    assert Agreement.objects.get(pk=agreement.pk).status == AgreementStatus.OPTED_OUT
    assert Agreement.objects.get(pk=other.pk).status == AgreementStatus.PENDING_AFFIRMATION


# --- Languages ---------------------------------------------------------------------------


def test_the_page_speaks_spanish_when_asked_and_remembers_it(client, agreement):
    _opened(client, agreement)
    page = client.get("/affirm/", {"lang": "es"}).content.decode()
    assert '<html lang="es">' in page
    assert "lunes 30 de noviembre de 2026" in page
    assert "pide leer los datos de su medidor inteligente" in page
    assert 'href="/affirm/?lang=en"' in page
    assert '<html lang="es">' in client.get("/affirm/").content.decode()


def test_the_page_speaks_the_language_of_the_request(client, active_csp):
    request_agreement(active_csp, residential(), language="es")
    open_emailed_link(client, _email())
    assert '<html lang="es">' in client.get("/affirm/").content.decode()


def test_the_not_found_page_follows_the_browser_language(client):
    response = client.get("/affirm/", HTTP_ACCEPT_LANGUAGE="es-MX,es;q=0.9")
    assert '<html lang="es">' in response.content.decode()
    assert "Este enlace no abre nada" in response.content.decode()
