"""/csp/agreements/: a CSP's people list, filter and search its agreements, read one
with its timeline and webhook deliveries, and press the API's buttons (reminder,
renewal, termination) with the API's services, rules and refusals in words."""

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from affirmations.models import Agreement, AgreementStatus, Record, RecordEvent, Renewal
from csp_registry.models import CspEvent, EventType
from tests.affirmations.conftest import (
    NOW,
    make_active,
    make_renewable,
    request_agreement,
    residential,
)
from tests.csp_portal.conftest import make_member, portal_client
from webhooks.models import WebhookAttempt, WebhookDelivery
from webhooks.services import endpoint_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def agent(agent_client):
    return agent_client


@pytest.fixture
def viewer(viewer_client):
    return viewer_client


def _messages(response):
    return [str(message) for message in response.context["messages"]]


# --- The list ----------------------------------------------------------------------------


def test_the_list_shows_this_providers_agreements_newest_first_with_masked_emails(
    viewer, active_csp, other_csp, frozen
):
    first = request_agreement(active_csp, residential(), email="jane.customer@example.com")
    second = request_agreement(active_csp, residential(), email="bob@example.org")
    theirs = request_agreement(other_csp, residential())

    response = viewer.get("/csp/agreements/")

    assert response.status_code == 200
    assert [row["agreement"].pk for row in response.context["rows"]] == [second.pk, first.pk]
    page = response.content.decode()
    assert "j***@example.com" in page and "b***@example.org" in page
    assert "jane.customer@example.com" not in page
    assert f"#{theirs.pk}<" not in page


def test_the_list_filters_by_status_and_finds_an_esi_id_however_it_is_typed(
    viewer, active_csp, frozen
):
    pending = request_agreement(active_csp, residential())
    premise = residential()
    active = make_active(request_agreement(active_csp, premise))

    by_status = viewer.get("/csp/agreements/", {"status": "active"})
    spaced = " ".join(premise.esi_id[i : i + 4] for i in range(0, len(premise.esi_id), 4))
    by_esi_id = viewer.get("/csp/agreements/", {"esi_id": f" {spaced} "})

    assert [row["agreement"].pk for row in by_status.context["rows"]] == [active.pk]
    assert [row["agreement"].pk for row in by_esi_id.context["rows"]] == [active.pk]
    assert pending.pk not in [row["agreement"].pk for row in by_esi_id.context["rows"]]


def test_a_malformed_esi_id_search_is_refused_in_words_not_with_a_500(viewer, frozen):
    response = viewer.get("/csp/agreements/", {"esi_id": "not an id"})

    assert response.status_code == 200
    assert response.context["filters"].errors["esi_id"]
    assert response.context["rows"] == []


def test_the_list_takes_as_many_queries_for_twenty_agreements_as_for_one(
    viewer, active_csp, frozen
):
    request_agreement(active_csp, residential())
    viewer.get("/csp/agreements/")  # sessions, sites and the like warmed up
    with CaptureQueriesContext(connection) as one:
        viewer.get("/csp/agreements/")
    for _ in range(19):
        request_agreement(active_csp, residential(), residential())
    with CaptureQueriesContext(connection) as twenty:
        response = viewer.get("/csp/agreements/")

    assert len(response.context["rows"]) == 20
    assert len(twenty) == len(one), [q["sql"] for q in twenty.captured_queries]


# --- One agreement -----------------------------------------------------------------------


def test_another_providers_agreement_is_not_found(agent, other_csp, frozen):
    theirs = request_agreement(other_csp, residential())

    assert agent.get(f"/csp/agreements/{theirs.pk}/").status_code == 404
    assert agent.post(f"/csp/agreements/{theirs.pk}/reminder/").status_code == 404
    assert agent.post(f"/csp/agreements/{theirs.pk}/termination/").status_code == 404
    assert Agreement.objects.get(pk=theirs.pk).status == AgreementStatus.PENDING_AFFIRMATION


def test_the_detail_shows_the_record_the_events_and_the_webhook_deliveries_without_the_email(
    viewer, active_csp, frozen
):
    endpoint, _ = endpoint_create(
        csp=active_csp,
        url="https://hooks.bright-advice.example/smt",
        event_types=[EventType.AGREEMENT_TERMINATED],
        now=NOW,
    )
    agreement = request_agreement(active_csp, residential(), email="jane.customer@example.com")
    from affirmations import services
    from smt_portal.actors import Actor

    services.agreement_terminate(
        agreement=agreement, ended_by="csp", reason="", actor=Actor.csp(active_csp), now=NOW
    )
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    WebhookAttempt.objects.create(
        delivery=delivery, started_at=NOW, duration_ms=120, status_code=500
    )

    response = viewer.get(f"/csp/agreements/{agreement.pk}/")

    assert response.status_code == 200
    page = response.content.decode()
    whats = [entry["what"] for entry in response.context["timeline"]]
    assert whats[0] == "Request created"
    assert "Terminated" in whats
    event = CspEvent.objects.get(agreement_id=agreement.pk)
    assert f"Event agreement.terminated ({event.public_id})" in whats
    assert "https://hooks.bright-advice.example/smt" in page
    assert "HTTP 500" in page
    assert f"Confirmation code: {agreement.confirmation_code}" in page
    assert "j***@example.com" in page
    assert "jane.customer@example.com" not in page
    # A viewer reads; the buttons are not offered.
    assert "reminder/" not in page


# --- The buttons -------------------------------------------------------------------------


def test_a_reminder_is_sent_once_and_the_second_is_refused_in_the_services_words(
    agent, active_csp, frozen
):
    agreement = request_agreement(active_csp, residential())

    first = agent.post(f"/csp/agreements/{agreement.pk}/reminder/", follow=True)
    second = agent.post(f"/csp/agreements/{agreement.pk}/reminder/", follow=True)

    assert first.status_code == second.status_code == 200
    assert Agreement.objects.get(pk=agreement.pk).reminder_sent_at == NOW
    assert _messages(second) == [
        "A reminder was already sent for this request; only one is allowed."
    ]
    reminders = Record.objects.filter(agreement=agreement, event=RecordEvent.REMINDER_SENT)
    assert [record.actor for record in reminders] == [
        f"{active_csp.pk}:user:{agent.member.user.pk}"
    ]


def test_termination_ends_the_agreement_as_the_csp_and_tells_the_csp_by_event(
    agent, active_csp, frozen
):
    agreement = make_active(request_agreement(active_csp, residential()))

    response = agent.post(
        f"/csp/agreements/{agreement.pk}/termination/", {"reason": "Customer moved"}, follow=True
    )

    agreement.refresh_from_db()
    assert agreement.status == AgreementStatus.TERMINATED
    assert agreement.ended_by == "csp"
    assert agreement.end_reason == "Customer moved"
    assert CspEvent.objects.filter(
        agreement_id=agreement.pk, type=EventType.AGREEMENT_TERMINATED
    ).exists()
    again = agent.post(f"/csp/agreements/{agreement.pk}/termination/", follow=True)
    assert response.status_code == again.status_code == 200
    assert _messages(again) == ["This agreement is already terminated."]


def test_a_renewal_is_asked_for_in_its_window_and_refused_in_words_before_it(
    agent, active_csp, frozen
):
    early = make_active(request_agreement(active_csp, residential()))
    renewable = make_renewable(request_agreement(active_csp, residential()))

    refused = agent.post(
        f"/csp/agreements/{early.pk}/renewal/", {"customer_email": "jane@example.com"}, follow=True
    )
    asked = agent.post(
        f"/csp/agreements/{renewable.pk}/renewal/",
        {"customer_email": "jane@example.com"},
        follow=True,
    )
    bad = agent.post(f"/csp/agreements/{renewable.pk}/renewal/", {"customer_email": "nope"})

    assert _messages(refused)[0].startswith(
        "A renewal can be asked for only in the last days of the current term"
    )
    assert not Renewal.objects.filter(agreement=early).exists()
    assert Renewal.objects.filter(agreement=renewable).count() == 1
    assert _messages(asked) == ["The renewal request was emailed to j***@example.com."]
    assert bad.status_code == 400
    assert bad.context["renewal_form"].errors["customer_email"]


def test_a_viewer_cannot_press_a_button(viewer, active_csp, frozen):
    agreement = request_agreement(active_csp, residential())

    for action in ("reminder", "termination", "renewal"):
        response = viewer.post(f"/csp/agreements/{agreement.pk}/{action}/")
        assert response.status_code == 403, action

    agreement.refresh_from_db()
    assert agreement.status == AgreementStatus.PENDING_AFFIRMATION
    assert agreement.reminder_sent_at is None


def test_buttons_need_the_csrf_token(active_csp, frozen):
    agreement = request_agreement(active_csp, residential())
    client = portal_client(make_member(active_csp, "agent"))
    client.handler.enforce_csrf_checks = True

    response = client.post(f"/csp/agreements/{agreement.pk}/termination/")

    assert response.status_code == 403
    agreement.refresh_from_db()
    assert agreement.status == AgreementStatus.PENDING_AFFIRMATION


def test_a_stranger_is_sent_to_sign_in(client, active_csp, frozen):
    response = client.get("/csp/agreements/")

    assert response.status_code == 302
    assert response["Location"].startswith("/account/login/")


def test_a_suspended_providers_people_read_their_agreements_but_press_nothing(
    suspended_csp, frozen
):
    agreement = Agreement.objects.create(
        csp=suspended_csp,
        status=AgreementStatus.PENDING_AFFIRMATION,
        customer_email="jane.customer@example.com",
        language="en",
        term_months=12,
        max_term_months=12,
        renewal_window_days=60,
        confirmation_code="ABCD2345",
        created_at=NOW,
        affirmation_sent_at=NOW,
        affirmation_expires_at=NOW,
    )
    agent = portal_client(make_member(suspended_csp, "agent"))

    assert agent.get("/csp/agreements/").status_code == 200
    assert agent.get(f"/csp/agreements/{agreement.pk}/").status_code == 200
    assert agent.post(f"/csp/agreements/{agreement.pk}/reminder/").status_code == 403
    assert agent.get("/csp/agreements/new/").status_code == 403
    agreement.refresh_from_db()
    assert agreement.reminder_sent_at is None
