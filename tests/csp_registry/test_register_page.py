"""/csp/register/: a company applies; pending review; a receipt; rate-limited."""

import pytest
import time_machine

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
    "registered_ip_ranges": "203.0.113.0/24",
}

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _frozen_clock():
    with time_machine.travel("2026-03-02T16:00:10+00:00", tick=False):
        yield


def test_the_form_is_shown_with_every_field_labelled(client):
    response = client.get("/csp/register/")
    assert response.status_code == 200
    html = response.content.decode()
    for field in APPLICATION:
        assert f'for="id_{field}"' in html
    assert 'name="viewport"' in html and 'lang="en"' in html


def test_a_valid_application_is_pending_review_and_gets_a_receipt(
    client, django_capture_on_commit_callbacks
):
    response = client.post("/csp/register/", APPLICATION)
    assert response.status_code == 302 and response["Location"] == "/csp/register/done/"
    csp = Csp.objects.get()
    assert csp.status == CspStatus.PENDING_REVIEW
    assert csp.duns_number == "987654321"
    assert csp.scope_of_use == APPLICATION["scope_of_use"]
    assert csp.status_changes.get().to_status == "pending_review"
    assert OutboundEmail.objects.get().to_address == "ana@sunny-side.example"
    assert client.get(response["Location"]).status_code == 200


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("duns_number", "12345"),
        ("contact_email", "not-an-email"),
        ("privacy_policy_url", "nope"),
        ("registered_ip_ranges", "10.0.0.0/99"),
        ("scope_of_use", ""),
        ("contact_phone", "555"),
    ],
)
def test_an_invalid_application_is_shown_again_with_the_error(client, field, value):
    response = client.post("/csp/register/", {**APPLICATION, field: value})
    assert response.status_code == 200
    assert response.context["form"].errors[field]
    assert not Csp.objects.exists()


def test_applications_are_rate_limited_per_ip(client, settings):
    settings.CSP_REGISTER_RATE_LIMIT = "2/h"
    for number in range(2):
        client.post("/csp/register/", {**APPLICATION, "legal_name": f"Co {number}"})
    response = client.post("/csp/register/", {**APPLICATION, "legal_name": "Co 3"})
    assert response.status_code == 429
    assert Csp.objects.count() == 2
    other_ip = client.post(
        "/csp/register/", {**APPLICATION, "legal_name": "Co 4"}, REMOTE_ADDR="198.51.100.8"
    )
    assert other_ip.status_code == 302
