"""/report/: anyone reports a CSP, in English or Spanish; bot-protected with a
real ALTCHA proof of work, rate-limited by IP; each report opens a red flag."""

import pytest
from altcha.v2 import Payload, solve_challenge
from altcha_django import build_challenge
from django.urls import reverse

from monitoring.models import CustomerReport, FlagStatus, RedFlag

pytestmark = pytest.mark.django_db
URL = "/report/"


@pytest.fixture(autouse=True)
def altcha_settings(settings):
    if "altcha_django" not in settings.INSTALLED_APPS:
        settings.INSTALLED_APPS = [*settings.INSTALLED_APPS, "altcha_django"]
    settings.ALTCHA_HMAC_SECRET = "test-secret-for-reports"
    settings.ALTCHA_CHALLENGE = {"algorithm": "SHA-256", "cost": 1, "key_prefix": "0"}
    settings.REPORT_RATE_LIMIT = "3/h"


def solved_challenge():
    """What the widget posts after solving a challenge the server signed."""
    challenge = build_challenge()
    return Payload(challenge, solve_challenge(challenge)).to_base64()


def form_data(csp, **overrides):
    return {
        "csp": csp.pk,
        "category": "selling_sharing",
        "description": "They sold my usage data to a solar installer.",
        "contact_email": "",
        "esi_id": "",
        "altcha": solved_challenge(),
        **overrides,
    }


def test_the_page_offers_csps_that_have_been_active_and_a_challenge(
    client, active_csp, suspended_csp, pending_csp
):
    response = client.get(URL)
    assert response.status_code == 200
    choices = [choice.value for choice, _ in response.context["form"].fields["csp"].choices
               if choice]  # fmt: skip
    assert set(choices) == {active_csp.pk, suspended_csp.pk}
    assert b"<altcha-widget" in response.content
    assert b"altcha_django/altcha.min.js" in response.content
    assert b"cdn.jsdelivr" not in response.content


def test_a_report_is_stored_and_opens_a_flag_for_review(client, active_csp):
    data = form_data(active_csp, esi_id="10443720-0012-34567", contact_email="me@example.com")
    response = client.post(URL, data, HTTP_USER_AGENT="Firefox", REMOTE_ADDR="198.51.100.7")
    assert response.status_code == 302 and response["Location"].startswith("/report/thanks/")
    report = CustomerReport.objects.get()
    assert (report.csp, report.category, report.esi_id) == (
        active_csp, "selling_sharing", "10443720001234567",
    )  # fmt: skip
    assert (report.ip, report.user_agent, report.outcome) == ("198.51.100.7", "Firefox", "pending")
    flag = RedFlag.objects.get(report=report)
    assert (flag.csp, flag.kind, flag.status) == (active_csp, "e", FlagStatus.OPEN)


def test_a_report_of_altered_data_is_flag_f(client, active_csp):
    client.post(URL, form_data(active_csp, category="altering"))
    assert RedFlag.objects.get().kind == "f"


def test_every_report_opens_its_own_flag(client, active_csp):
    client.post(URL, form_data(active_csp))
    client.post(URL, form_data(active_csp, category="unwanted_contact"))
    assert RedFlag.objects.filter(csp=active_csp).count() == 2


def test_a_post_without_a_solved_challenge_is_refused(client, active_csp):
    response = client.post(URL, form_data(active_csp, altcha=""))
    assert response.status_code == 200 and "altcha" in response.context["form"].errors
    assert not CustomerReport.objects.exists()


def test_a_forged_or_replayed_solution_is_refused(client, active_csp):
    payload = solved_challenge()
    assert client.post(URL, form_data(active_csp, altcha=payload)).status_code == 302
    replay = client.post(URL, form_data(active_csp, altcha=payload))
    assert "altcha" in replay.context["form"].errors
    forged = client.post(URL, form_data(active_csp, altcha="eyJmb28iOiAxfQ=="))
    assert "altcha" in forged.context["form"].errors
    assert CustomerReport.objects.count() == 1


def test_a_bad_esi_id_is_refused(client, active_csp):
    response = client.post(URL, form_data(active_csp, esi_id="12ab"))
    assert "esi_id" in response.context["form"].errors


def test_reports_are_rate_limited_per_address(client, active_csp):
    for _ in range(3):
        client.post(URL, form_data(active_csp), REMOTE_ADDR="203.0.113.1")
    limited = client.post(URL, form_data(active_csp), REMOTE_ADDR="203.0.113.1")
    assert limited.status_code == 429
    other = client.post(URL, form_data(active_csp), REMOTE_ADDR="203.0.113.2")
    assert other.status_code == 302
    assert CustomerReport.objects.count() == 4


def test_the_page_is_in_spanish_with_lang_es(client, active_csp):
    response = client.get(URL + "?lang=es")
    assert "Denunciar a un proveedor" in response.content.decode()
    assert "Venta o divulgación de mis datos" in response.content.decode()


def test_the_page_follows_the_browsers_language(client, active_csp):
    response = client.get(URL, HTTP_ACCEPT_LANGUAGE="es-MX,es;q=0.9")
    assert "Describa lo que ocurrió" in response.content.decode()


def test_a_spanish_report_is_recorded_in_spanish_and_thanked_in_spanish(client, active_csp):
    response = client.post(URL + "?lang=es", form_data(active_csp), follow=True)
    assert "Gracias" in response.content.decode()
    assert CustomerReport.objects.get().language == "es"


def test_the_csp_can_be_preselected_from_a_link(client, active_csp):
    response = client.get(URL, {"csp": active_csp.pk})
    assert response.context["form"]["csp"].value() == str(active_csp.pk)


def test_the_thanks_page_exists(client):
    assert client.get(reverse("monitoring:report-done")).status_code == 200
