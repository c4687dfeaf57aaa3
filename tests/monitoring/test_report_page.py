"""/report/: anyone reports a CSP, in English or Spanish; bot-protected with a
real ALTCHA proof of work, rate-limited by IP (an IPv6 /64 as one); reports of one
kind about one CSP from one source collapse into one red flag."""

import pytest
import time_machine
from altcha.v2 import Payload, solve_challenge
from altcha_django import build_challenge
from django.urls import reverse
from django.utils.timezone import now

from monitoring.models import CustomerReport, FlagStatus, RedFlag
from monitoring.services import flag_dismiss, flag_uphold
from smt_portal.actors import Actor

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


def test_reports_of_different_kinds_open_their_own_flags(client, active_csp):
    client.post(URL, form_data(active_csp))
    client.post(URL, form_data(active_csp, category="unwanted_contact"))
    assert RedFlag.objects.filter(csp=active_csp).count() == 2


def test_reports_from_different_sources_open_their_own_flags(client, active_csp):
    client.post(URL, form_data(active_csp), REMOTE_ADDR="203.0.113.1")
    client.post(URL, form_data(active_csp), REMOTE_ADDR="203.0.113.2")
    client.post(URL, form_data(active_csp), REMOTE_ADDR="2001:db8:1:1::1")
    client.post(URL, form_data(active_csp), REMOTE_ADDR="2001:db8:1:2::1")
    assert RedFlag.objects.filter(csp=active_csp).count() == 4


def test_22_reports_from_one_ipv6_slash_64_make_one_flag_listing_them(
    client, settings, active_csp, other_csp
):
    settings.REPORT_RATE_LIMIT = "100/h"
    for n in range(22):
        response = client.post(URL, form_data(active_csp), REMOTE_ADDR=f"2001:db8:7:1::{n + 1:x}")
        assert response.status_code == 302
    client.post(URL, form_data(other_csp), REMOTE_ADDR="2001:db8:7:1::ff")

    [flag] = RedFlag.objects.filter(csp=active_csp)
    reports = list(CustomerReport.objects.filter(csp=active_csp).order_by("pk"))
    assert len(reports) == 22  # every report is kept
    assert flag.report == reports[0] and flag.status == FlagStatus.OPEN
    figures = flag.evidence["figures"]
    assert figures["source"] == "2001:db8:7:1::/64" and figures["reports"] == 22
    assert figures["report_ids"] == [report.pk for report in reports]
    assert [row["id"] for row in flag.evidence["samples"]] == figures["report_ids"]
    assert flag.evidence["links"][0]["url"].startswith("/admin/monitoring/customerreport/?id__in=")
    assert RedFlag.objects.filter(csp=other_csp).count() == 1  # another CSP: its own flag


def test_a_report_after_the_collapse_window_opens_a_new_flag(client, active_csp):
    with time_machine.travel("2026-03-02T10:00:00+00:00", tick=False):
        client.post(URL, form_data(active_csp), REMOTE_ADDR="198.51.100.20")
    with time_machine.travel("2026-03-03T09:59:00+00:00", tick=False):
        client.post(URL, form_data(active_csp), REMOTE_ADDR="198.51.100.20")
    assert RedFlag.objects.count() == 1
    with time_machine.travel("2026-03-03T10:01:00+00:00", tick=False):
        client.post(URL, form_data(active_csp), REMOTE_ADDR="198.51.100.20")
    assert RedFlag.objects.count() == 2


def test_a_report_after_its_flag_was_decided_opens_a_new_flag(client, active_csp, admin_user):
    client.post(URL, form_data(active_csp), REMOTE_ADDR="198.51.100.21")
    flag_dismiss(
        flag=RedFlag.objects.get(), actor=Actor.staff(admin_user), reason="not credible", now=now()
    )
    client.post(URL, form_data(active_csp), REMOTE_ADDR="198.51.100.21")
    assert RedFlag.objects.filter(status=FlagStatus.OPEN).count() == 1


def test_deciding_a_collapsed_flag_decides_every_report_behind_it(client, active_csp, admin_user):
    client.post(URL, form_data(active_csp, category="other"), REMOTE_ADDR="198.51.100.22")
    client.post(URL, form_data(active_csp, category="unwanted_contact"),
                REMOTE_ADDR="198.51.100.22")  # fmt: skip
    flag = RedFlag.objects.get()
    assert flag.severity == "medium"  # the higher of low and medium
    flag_uphold(flag=flag, actor=Actor.staff(admin_user), reason="confirmed", now=now())
    assert set(CustomerReport.objects.values_list("outcome", flat=True)) == {"upheld"}


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


def test_reports_are_rate_limited_per_ipv6_slash_64(client, active_csp):
    for n in range(3):
        client.post(URL, form_data(active_csp), REMOTE_ADDR=f"2001:db8:9:9::{n + 1}")
    limited = client.post(URL, form_data(active_csp), REMOTE_ADDR="2001:db8:9:9:ffff::1")
    assert limited.status_code == 429
    other = client.post(URL, form_data(active_csp), REMOTE_ADDR="2001:db8:9:a::1")
    assert other.status_code == 302


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
