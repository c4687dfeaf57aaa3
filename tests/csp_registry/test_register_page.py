"""/csp/register/: a company applies; pending review; a receipt that repeats nothing
the applicant wrote; bot-protected with ALTCHA; rate-limited per IP (IPv6 /64)."""

import pytest
import time_machine
from altcha.v2 import Payload, solve_challenge
from altcha_django import build_challenge

from csp_registry.models import Csp, CspStatus
from outbox.models import OutboundEmail

APPLICATION = {
    "legal_name": "Sunny Side Solar LLC",
    "dba_name": "Sunny Side",
    "duns_number": "98-765-4321",
    "puct_registration_number": "",
    "contact_name": "Ana Ruiz",
    "contact_email": "ana@sunny-side.example",
    "contact_phone": "(512) 555-0142",
    "notice_email": "legal@sunny-side.example",
    "mailing_address": "5 Oak St, Austin, TX 78702",
    "website_url": "https://sunny-side.example",
    "privacy_policy_url": "https://sunny-side.example/privacy",
    "scope_of_use": "We size solar panels from your past year of usage.",
    "scope_of_use_es": "Dimensionamos paneles solares con su consumo del último año.",
    "registered_ip_ranges": "203.0.113.0/24",
}

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _frozen_clock():
    with time_machine.travel("2026-03-02T16:00:10+00:00", tick=False):
        yield


@pytest.fixture(autouse=True)
def _cheap_challenge(settings):
    settings.ALTCHA_HMAC_SECRET = "test-secret-for-registrations"
    settings.ALTCHA_CHALLENGE = {"algorithm": "SHA-256", "cost": 1, "key_prefix": "0"}


def solved_challenge():
    """What the widget posts after solving a challenge the server signed."""
    challenge = build_challenge()
    return Payload(challenge, solve_challenge(challenge)).to_base64()


def apply(client, *, altcha=None, remote_addr="127.0.0.1", **fields):
    data = {**APPLICATION, "altcha": solved_challenge() if altcha is None else altcha, **fields}
    return client.post("/csp/register/", data, REMOTE_ADDR=remote_addr)


def test_the_form_is_shown_with_every_field_labelled_and_a_challenge(client):
    response = client.get("/csp/register/")
    assert response.status_code == 200
    html = response.content.decode()
    for field in APPLICATION:
        assert f'for="id_{field}"' in html
    assert 'name="viewport"' in html and 'lang="en"' in html
    assert "<altcha-widget" in html and "altcha_django/altcha.min.js" in html
    assert "cdn.jsdelivr" not in html


def test_the_challenge_speaks_spanish_on_the_spanish_page(client):
    html = client.get("/csp/register/?lang=es").content.decode()
    assert "Demuestre que no es un robot" in html


def test_a_valid_application_is_pending_review_and_gets_a_receipt(
    client, django_capture_on_commit_callbacks
):
    response = apply(client)
    assert response.status_code == 302 and response["Location"] == "/csp/register/done/"
    csp = Csp.objects.get()
    assert csp.status == CspStatus.PENDING_REVIEW
    assert csp.duns_number == "987654321"
    assert csp.scope_of_use == APPLICATION["scope_of_use"]
    assert csp.status_changes.get().to_status == "pending_review"
    assert OutboundEmail.objects.get().to_address == "ana@sunny-side.example"
    assert client.get(response["Location"]).status_code == 200


@pytest.mark.parametrize("language", ["en", "es"])
def test_the_receipt_repeats_nothing_the_applicant_wrote(client, language):
    written = {
        "legal_name": "Your account is locked, call 555-0100 now",
        "dba_name": "Urgent: verify at http://phish.example",
        "contact_name": "<b>Security Team</b>",
        "mailing_address": "Reply with your password",
        "scope_of_use": "Click http://phish.example/login to keep your power on",
    }
    client.post(
        f"/csp/register/?lang={language}",
        {**APPLICATION, **written, "altcha": solved_challenge()},
        HTTP_ACCEPT_LANGUAGE=language,
    )
    csp = Csp.objects.get()
    email = OutboundEmail.objects.get(kind="csp_application_received")
    assert email.language == language
    for text in (email.subject, email.body_text, email.body_html):
        for value in written.values():
            assert value not in text
        for fragment in ("phish", "555-0100", "Security Team", "password", "locked"):
            assert fragment not in text
    reference = f"CSP-{csp.pk:06d}"
    assert reference in email.body_text and reference in email.body_html


def test_an_application_without_a_solved_challenge_is_refused(client):
    response = apply(client, altcha="")
    assert response.status_code == 200 and "altcha" in response.context["form"].errors
    assert not Csp.objects.exists() and not OutboundEmail.objects.exists()


def test_a_forged_or_replayed_solution_is_refused(client):
    payload = solved_challenge()
    assert apply(client, altcha=payload).status_code == 302
    replay = apply(client, altcha=payload, legal_name="Second Co")
    assert "altcha" in replay.context["form"].errors
    forged = apply(client, altcha="eyJmb28iOiAxfQ==", legal_name="Third Co")
    assert "altcha" in forged.context["form"].errors
    assert Csp.objects.count() == 1


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("duns_number", "12345"),
        ("contact_email", "not-an-email"),
        ("privacy_policy_url", "nope"),
        ("registered_ip_ranges", "10.0.0.0/99"),
        ("scope_of_use", ""),
        ("scope_of_use_es", ""),
        ("duns_number", ""),
        ("mailing_address", ""),
        ("contact_phone", "555"),
    ],
)
def test_an_invalid_application_is_shown_again_with_the_error(client, field, value):
    response = apply(client, **{field: value})
    assert response.status_code == 200
    assert response.context["form"].errors[field]
    assert not Csp.objects.exists()


def test_applications_are_rate_limited_per_ip(client, settings):
    settings.CSP_REGISTER_RATE_LIMIT = "2/h"
    for number in range(2):
        apply(client, legal_name=f"Co {number}")
    response = apply(client, legal_name="Co 3")
    assert response.status_code == 429
    assert Csp.objects.count() == 2
    other_ip = apply(client, legal_name="Co 4", remote_addr="198.51.100.8")
    assert other_ip.status_code == 302


def test_applications_are_rate_limited_per_ipv6_slash_64(client, settings):
    settings.CSP_REGISTER_RATE_LIMIT = "2/h"
    for number in range(2):
        apply(client, legal_name=f"Co {number}", remote_addr=f"2001:db8:3:4::{number + 1}")
    response = apply(client, legal_name="Co 3", remote_addr="2001:db8:3:4:ffff:ffff:ffff:ffff")
    assert response.status_code == 429
    assert apply(client, legal_name="Co 4", remote_addr="2001:db8:3:5::1").status_code == 302
