"""/csp/agreements/new/: an agent asks a customer to affirm, through the API's
premise-check budget and the API's service, and sees the code as the email shows it."""

import pytest
import time_machine
from django.conf import settings as django_settings

from affirmations.models import Agreement, AgreementStatus, Language
from outbox.models import OutboundEmail
from premises.models import RetailElectricProvider
from tests.affirmations.conftest import (
    NOW,
    large_commercial,
    request_agreement,
    residential,
    triple,
)
from tests.csp_portal.conftest import make_member, portal_client
from tests.factories import make_rep

pytestmark = pytest.mark.django_db


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def agent(agent_client):
    return agent_client


def form_data(*premises, customer_email="jane.customer@example.com", term_months=12, **extra):
    """What the browser posts: the management form, one row per premise, the request."""
    data = {
        "form-TOTAL_FORMS": str(len(premises)),
        "form-INITIAL_FORMS": "0",
        "form-MIN_NUM_FORMS": "1",
        "form-MAX_NUM_FORMS": "200",
        "customer_email": customer_email,
        "term_months": str(term_months),
        "language": "en",
        **extra,
    }
    for index, facts in enumerate(premises):
        esi_id, meter, certificate = facts if isinstance(facts, tuple) else triple(facts)
        data[f"form-{index}-esi_id"] = esi_id
        data[f"form-{index}-meter_number"] = meter
        data[f"form-{index}-rep_certificate_number"] = certificate
    return data


def test_the_form_offers_every_provider_by_name_and_certificate_number(agent, frozen):
    make_rep("10001", legal_name="Alpha Power LLC")
    make_rep("10002", legal_name="Zeta Energy LP", active=False)

    response = agent.get("/csp/agreements/new/")

    assert response.status_code == 200
    page = response.content.decode()
    for rep in RetailElectricProvider.objects.all():
        assert f'<option value="{rep.certificate_number}">{rep.legal_name} ' in page
    assert "Alpha Power LLC (10001)" in page and "Zeta Energy LP (10002)" in page
    assert 'name="csrfmiddlewaretoken"' in page


def test_a_large_commercial_customer_is_asked_for_36_months_and_the_code_shown_as_emailed(
    agent, active_csp, frozen
):
    one, two = large_commercial(), large_commercial()

    response = agent.post(
        "/csp/agreements/new/", form_data(one, two, term_months=36, language="es"), follow=True
    )

    agreement = Agreement.objects.get(csp=active_csp)
    assert response.redirect_chain == [(f"/csp/agreements/{agreement.pk}/requested/", 302)]
    assert agreement.status == AgreementStatus.PENDING_AFFIRMATION
    assert agreement.term_months == 36
    assert agreement.language == Language.SPANISH
    assert sorted(agreement.premises.values_list("esi_id", flat=True)) == sorted(
        [one.esi_id, two.esi_id]
    )
    page = response.content.decode()
    shown = f"Confirmation code: {agreement.confirmation_code}"
    assert shown in page
    email = OutboundEmail.objects.get(to_address="jane.customer@example.com")
    assert agreement.confirmation_code in email.subject
    assert "j***@example.com" in page and "jane.customer@example.com" not in page


def test_wrong_facts_are_refused_on_the_premise_they_belong_to_and_nothing_is_written(
    agent, active_csp, frozen
):
    good, bad = residential(), residential()
    esi_id, _, certificate = triple(bad)

    response = agent.post(
        "/csp/agreements/new/", form_data(good, (esi_id, "999999999", certificate))
    )

    assert response.status_code == 422
    rows = response.context["formset"].forms
    assert rows[0].non_field_errors() == []
    assert rows[1].non_field_errors() == [
        "This premise could not be authenticated: check its ESI ID, meter number and "
        "provider of record."
    ]
    assert not Agreement.objects.exists()
    assert not OutboundEmail.objects.exists()


def test_a_term_the_premises_do_not_allow_is_refused_on_the_term_with_only_allowed_terms_offered(
    agent, frozen
):
    response = agent.post("/csp/agreements/new/", form_data(residential(), term_months=36))

    assert response.status_code == 422
    form = response.context["form"]
    assert form.errors["term_months"] == ["The term may be at most 12 months for these premises."]
    assert [months for months, _ in form.fields["term_months"].choices] == list(range(1, 13))
    assert not Agreement.objects.exists()


def test_a_spent_premise_check_budget_refuses_the_whole_request_before_any_check(
    agent, frozen, settings
):
    settings.API_RATE_LIMITS = {
        **django_settings.API_RATE_LIMITS,
        "premise_authentication": {"ip": "1000/h", "csp": "2/h"},
    }
    from monitoring.models import PremiseAuthenticationAttempt

    response = agent.post(
        "/csp/agreements/new/", form_data(residential(), residential(), residential())
    )

    assert response.status_code == 429
    [message] = response.context["form"].non_field_errors()
    assert message.startswith("These 3 premise(s) would take more premise checks")
    assert "nothing was checked" in message
    assert not PremiseAuthenticationAttempt.objects.exists()
    assert not Agreement.objects.exists()
    # Within the budget, the same form goes through (and its checks are recorded).
    allowed = agent.post("/csp/agreements/new/", form_data(residential(), residential()))
    assert allowed.status_code == 302
    assert PremiseAuthenticationAttempt.objects.count() == 2


def test_a_duplicate_is_refused_on_the_esi_id_in_the_services_words(agent, active_csp, frozen):
    premise = residential()
    request_agreement(active_csp, premise)

    response = agent.post("/csp/agreements/new/", form_data(premise))

    assert response.status_code == 422
    assert response.context["formset"].forms[0].errors["esi_id"] == [
        f"An agreement pending affirmation or active already covers: {premise.esi_id}"
    ]
    assert Agreement.objects.count() == 1


def test_field_errors_are_tied_to_their_fields(agent, frozen):
    data = form_data(("nonsense", "", ""), customer_email="not-an-address")

    response = agent.post("/csp/agreements/new/", data)

    assert response.status_code == 400
    row = response.context["formset"].forms[0]
    assert set(row.errors) == {"esi_id", "meter_number", "rep_certificate_number"}
    assert response.context["form"].errors["customer_email"]
    assert not Agreement.objects.exists()


def test_another_row_is_added_keeping_what_was_typed(agent, frozen):
    premise = residential()

    response = agent.post("/csp/agreements/new/", form_data(premise, add_row="1"))

    assert response.status_code == 200
    formset = response.context["formset"]
    assert formset.total_form_count() == 2
    assert formset.forms[0].initial["esi_id"] == premise.esi_id
    assert not Agreement.objects.exists()


def test_a_viewer_cannot_request(active_csp, frozen):
    viewer = portal_client(make_member(active_csp, "viewer"))

    assert viewer.get("/csp/agreements/new/").status_code == 403
    assert viewer.post("/csp/agreements/new/", form_data(residential())).status_code == 403
    assert not Agreement.objects.exists()


def test_a_field_in_error_is_described_by_its_error_and_help(agent, frozen):
    response = agent.post(
        "/csp/agreements/new/", form_data(residential(), customer_email="not-an-address")
    )

    page = response.content.decode()
    assert 'id="id_customer_email_error"' in page
    assert 'aria-describedby="id_customer_email_error id_customer_email_helptext"' in page
    assert 'aria-invalid="true"' in page
