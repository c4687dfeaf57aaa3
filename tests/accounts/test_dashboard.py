"""The account's dashboard: every agreement on my premises, deciding and ending from it."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from affirmations.models import Agreement, AgreementStatus, EndedBy, Record, RecordEvent
from csp_registry.models import CspEvent, EventType
from outbox.models import OutboundEmail
from tests.affirmations.conftest import NOW, request_agreement, residential, solved_challenge
from tests.data_access.conftest import opted_in, read
from tests.personas import api_client_for, make_csp

from .conftest import link_premise

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen")]
DASHBOARD = reverse("accounts:dashboard")


@pytest.fixture
def home(customer):
    premise = residential(service_address="12 Elm St, Austin, TX 78701")
    link_premise(customer, premise, linked_at=NOW - timedelta(days=40))
    return premise


def agreement_url(name, agreement):
    return reverse(f"accounts:{name}", args=[agreement.pk])


def test_the_dashboard_shows_an_agreement_affirmed_at_another_address_masked(
    customer_client, home, active_csp, other_csp, disclosure
):
    elsewhere = opted_in(active_csp, home, disclosure=disclosure)  # to jane.customer@example.com
    mine = request_agreement(other_csp, home, email="maria@example.com")

    page = customer_client.get(DASHBOARD).text

    assert "12 Elm St, Austin, TX 78701" in page
    assert "j***@example.com" in page
    assert "jane.customer" not in page
    assert "maria@example.com" in page  # the account's own address, in full
    for agreement in (elsewhere, mine):
        assert agreement.confirmation_code in page
        assert agreement.csp.display_name in page
    assert "Active: data is shared" in page
    assert "Waiting for your decision" in page
    assert "12 months, from 23 November 2026 until" in page
    assert "The provider may read your data from 23 November 2025 to 23 November 2026." in page
    assert "Agreed" in page and "Request made" in page  # the record of its decisions
    assert reverse("accounts:premise-reads", args=[home.pk]) in page
    assert reverse("accounts:premise-download", args=[home.pk]) in page


def test_agreements_made_before_the_current_occupant_moved_in_are_not_shown(
    customer_client, home, active_csp, other_csp
):
    before = request_agreement(active_csp, home, now=NOW - timedelta(days=20))
    after = request_agreement(other_csp, home)
    home.occupant_since = (NOW - timedelta(days=10)).date()
    home.save()

    page = customer_client.get(DASHBOARD).text

    assert after.confirmation_code in page
    assert before.confirmation_code not in page
    assert customer_client.get(agreement_url("agreement", before)).status_code == 404


def _dashboard_queries(client):
    with CaptureQueriesContext(connection) as queries:
        assert client.get(DASHBOARD).status_code == 200
    return len(queries)


def test_the_dashboard_costs_the_same_queries_for_one_agreement_or_ten(
    customer_client, home, disclosure
):
    opted_in(make_csp(legal_name="Provider 0 LLC"), home, disclosure=disclosure)
    one = _dashboard_queries(customer_client)
    for index in range(1, 10):
        csp = make_csp(legal_name=f"Provider {index} LLC")
        if index % 2:
            opted_in(csp, home, disclosure=disclosure)
        else:
            request_agreement(csp, home)

    assert _dashboard_queries(customer_client) == one


@pytest.mark.usefixtures("cheap_altcha")
def test_the_customer_opts_in_from_the_account_with_the_disclosures_and_the_challenge(
    customer, customer_client, home, active_csp, disclosure
):
    agreement = request_agreement(active_csp, home)
    page = customer_client.get(agreement_url("agreement", agreement)).text
    assert "You share usage data." in page and "<altcha-widget" in page

    response = customer_client.post(agreement_url("agreement-opt-in", agreement), {
        "acknowledge": "on", "disclosure_version": 3, "altcha": solved_challenge(),
    }, HTTP_USER_AGENT="Firefox Tests")  # fmt: skip

    assert response.status_code == 302
    agreement.refresh_from_db()
    assert agreement.status == AgreementStatus.ACTIVE
    record = Record.objects.get(agreement=agreement, event=RecordEvent.OPTED_IN)
    assert (record.actor_type, record.actor) == ("customer", f"account:{customer.pk}")
    assert record.user_agent == "Firefox Tests"
    assert OutboundEmail.objects.filter(kind="receipt_opted_in").exists()


@pytest.mark.usefixtures("cheap_altcha")
def test_opting_in_without_the_challenge_changes_nothing(
    customer_client, home, active_csp, disclosure
):
    agreement = request_agreement(active_csp, home)

    response = customer_client.post(
        agreement_url("agreement-opt-in", agreement), {"acknowledge": "on", "disclosure_version": 3}
    )

    assert response.status_code == 400
    assert "Nothing was recorded yet." in response.text
    agreement.refresh_from_db()
    assert agreement.status == AgreementStatus.PENDING_AFFIRMATION


@pytest.mark.parametrize(
    "action, status, receipt",
    [
        ("agreement-opt-out", AgreementStatus.OPTED_OUT, "receipt_opted_out"),
        ("agreement-report-spam", AgreementStatus.REPORTED_SPAM, "receipt_reported_spam"),
    ],
)
def test_the_customer_declines_or_reports_a_request_from_the_dashboard(
    customer_client, home, active_csp, action, status, receipt
):
    agreement = request_agreement(active_csp, home, email="someone.else@example.com")
    assert agreement_url(action, agreement) in customer_client.get(DASHBOARD).text

    response = customer_client.post(agreement_url(action, agreement))

    assert response.status_code == 302
    agreement.refresh_from_db()
    assert (agreement.status, agreement.ended_by) == (status, EndedBy.CUSTOMER)
    assert OutboundEmail.objects.get(kind=receipt).to_address == "someone.else@example.com"
    again = customer_client.post(agreement_url(action, agreement), follow=True)
    assert "This request was already answered; nothing was changed." in again.text


def test_ending_an_agreement_tells_the_csp_and_its_next_data_call_is_refused(
    customer_client, home, active_csp, disclosure
):
    agreement = opted_in(active_csp, home, disclosure=disclosure)
    confirm = customer_client.get(agreement_url("agreement-end", agreement))
    assert confirm.status_code == 200
    assert 'id="stop-sharing"' in confirm.text
    assert Agreement.objects.get(pk=agreement.pk).status == AgreementStatus.ACTIVE  # GET: nothing

    response = customer_client.post(agreement_url("agreement-end", agreement))

    assert response.status_code == 302
    assert response["Location"] == agreement_url("agreement-ended", agreement)
    agreement.refresh_from_db()
    assert (agreement.status, agreement.ended_by, agreement.ended_at) == (
        AgreementStatus.TERMINATED, EndedBy.CUSTOMER, NOW,
    )  # fmt: skip
    terminated = EventType.AGREEMENT_TERMINATED
    [event] = CspEvent.objects.filter(agreement_id=agreement.pk, type=terminated)
    assert event.data["agreement"]["status"] == "terminated"
    told = OutboundEmail.objects.get(kind="csp_agreement_ended_by_customer")
    assert told.to_address == active_csp.notice_email
    assert agreement.confirmation_code in told.body_text
    assert OutboundEmail.objects.get(kind="agreement_terminated").to_address == (
        agreement.customer_email
    )
    receipt = customer_client.get(response["Location"]).text
    assert "You stopped sharing your data with Bright Advice LLC" in receipt
    yesterday = NOW.date() - timedelta(days=1)
    data_call = read(
        api_client_for(active_csp), agreement, esi_id=home.esi_id, start=yesterday, end=yesterday
    )
    assert data_call.status_code == 409
    assert data_call.json()["error"]["code"] == "agreement_not_active"


def test_the_stop_button_comes_right_after_the_agreements_facts_before_the_providers_words(
    customer_client, home, active_csp, disclosure
):
    agreement = opted_in(active_csp, home, disclosure=disclosure)
    page = customer_client.get(agreement_url("agreement-end", agreement)).text
    assert page.index('id="stop-sharing"') < page.index("Who asks")


def test_an_agreement_already_ended_cannot_be_ended_again(
    customer_client, home, active_csp, disclosure
):
    agreement = opted_in(active_csp, home, disclosure=disclosure)
    customer_client.post(agreement_url("agreement-end", agreement))
    emails = OutboundEmail.objects.count()

    for response in (
        customer_client.get(agreement_url("agreement-end", agreement)),
        customer_client.post(agreement_url("agreement-end", agreement)),
    ):
        assert response.status_code == 409
        assert "This agreement has already ended" in response.text
    assert OutboundEmail.objects.count() == emails


def test_another_account_can_neither_see_nor_act_on_my_premises_agreements(
    neighbour_client, home, active_csp, other_csp, disclosure
):
    active = opted_in(active_csp, home, disclosure=disclosure)
    pending = request_agreement(other_csp, home)

    assert active.confirmation_code not in neighbour_client.get(DASHBOARD).text
    for name, agreement in [
        ("agreement", active), ("agreement-end", active), ("agreement-ended", active),
        ("agreement", pending),
    ]:  # fmt: skip
        assert neighbour_client.get(agreement_url(name, agreement)).status_code == 404
    for name, agreement in [
        ("agreement-end", active), ("agreement-opt-in", pending),
        ("agreement-opt-out", pending), ("agreement-report-spam", pending),
    ]:  # fmt: skip
        assert neighbour_client.post(agreement_url(name, agreement)).status_code == 404
    assert Agreement.objects.get(pk=active.pk).status == AgreementStatus.ACTIVE
    assert Agreement.objects.get(pk=pending.pk).status == AgreementStatus.PENDING_AFFIRMATION


def test_a_removed_premise_takes_its_agreements_off_the_account(
    customer_client, home, active_csp, disclosure
):
    agreement = opted_in(active_csp, home, disclosure=disclosure)
    customer_client.post(reverse("accounts:premise-remove", args=[home.pk]))

    assert agreement.confirmation_code not in customer_client.get(DASHBOARD).text
    assert customer_client.post(agreement_url("agreement-end", agreement)).status_code == 404


def test_signed_out_visitors_are_sent_to_sign_in(client):
    response = client.get(DASHBOARD)

    assert response.status_code == 302
    assert response["Location"].startswith("/account/login/?next=/account/")


def test_the_dashboard_speaks_spanish(customer_client, home, active_csp, disclosure):
    opted_in(active_csp, home, disclosure=disclosure)

    page = customer_client.get(DASHBOARD, {"lang": "es"}).text

    assert '<html lang="es">' in page
    assert "Su cuenta" in page
    assert "Activo: se comparten datos" in page
    assert "de noviembre de 2026" in page
    assert "Your account" not in page
