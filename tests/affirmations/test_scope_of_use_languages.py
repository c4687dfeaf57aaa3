"""The CSP's statement of how it will use the data, in the customer's language
(issue 12): both are required to start a request, shown each in its language, and
marked with ``lang``."""

import pytest

from affirmations import services
from csp_registry.models import Csp
from outbox.models import OutboundEmail

from .conftest import open_emailed_link, premise_json, request_agreement, residential

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen")]

SCOPE_EN = "We recommend an electricity plan."
SCOPE_ES = "Le recomendamos un plan de electricidad."


@pytest.fixture
def csp(active_csp):
    Csp.objects.filter(pk=active_csp.pk).update(scope_of_use=SCOPE_EN, scope_of_use_es=SCOPE_ES)
    active_csp.refresh_from_db()
    return active_csp


@pytest.mark.parametrize("missing", ["scope_of_use", "scope_of_use_es"])
def test_a_request_cannot_start_while_either_statement_is_missing(csp, missing):
    Csp.objects.filter(pk=csp.pk).update(**{missing: "  "})
    csp.refresh_from_db()

    with pytest.raises(services.CspProfileIncomplete):
        request_agreement(csp, residential())
    assert not OutboundEmail.objects.exists()


def test_the_api_answers_403_csp_profile_incomplete_with_a_clear_message(csp, csp_api):
    Csp.objects.filter(pk=csp.pk).update(scope_of_use_es="")
    body = {
        "premises": [premise_json(residential())],
        "customer_email": "jane.customer@example.com",
        "term_months": 12,
    }

    response = csp_api.post("/api/v1/agreements/", body, format="json")

    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == "csp_profile_incomplete"
    assert "English or Spanish" in error["message"]


@pytest.mark.parametrize(("language", "text"), [("en", SCOPE_EN), ("es", SCOPE_ES)])
def test_the_request_email_and_page_show_the_statement_in_the_customers_language(
    csp, client, language, text
):
    request_agreement(csp, residential(), language=language)
    email = OutboundEmail.objects.get(kind="affirmation_request")
    other = SCOPE_ES if language == "en" else SCOPE_EN

    assert text in email.body_text and other not in email.body_text
    assert f'<span lang="{language}">{text}</span>' in email.body_html
    open_emailed_link(client, email)
    page = client.get("/affirm/").content.decode()
    assert f'lang="{language}">{text}</blockquote>' in page and other not in page


def test_a_statement_only_in_english_is_marked_english_on_a_spanish_page(csp, client):
    request_agreement(csp, residential(), language="es")
    Csp.objects.filter(pk=csp.pk).update(scope_of_use_es="")  # staff cleared it since
    open_emailed_link(client, OutboundEmail.objects.get(kind="affirmation_request"))

    page = client.get("/affirm/").content.decode()

    assert '<html lang="es">' in page
    assert f'lang="en">{SCOPE_EN}</blockquote>' in page


def test_the_providers_page_shows_the_statement_in_the_pages_language(csp, client):
    spanish = client.get("/providers/?lang=es").content.decode()
    english = client.get("/providers/?lang=en").content.decode()

    assert f'<span lang="es">{SCOPE_ES}</span>' in spanish and SCOPE_EN not in spanish
    assert f'<span lang="en">{SCOPE_EN}</span>' in english and SCOPE_ES not in english


def test_the_request_email_keeps_reporting_one_click_away_for_who_does_not_know_the_code(
    csp,
):
    request_agreement(csp, residential())
    email = OutboundEmail.objects.get(kind="affirmation_request")

    assert "do not open the link" not in email.body_text
    assert 'open the link only to press "I did not ask for this: report spam"' in email.body_text
