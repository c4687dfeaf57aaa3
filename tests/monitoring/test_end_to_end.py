"""Suspension end to end (R20, R21): the committee suspends a CSP from a flag in
the admin; its next API call, the customer's pending link on the real /affirm/
pages and the outbox all show it."""

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from affirmations.models import AgreementLink, AgreementStatus, Disclosure, Record, RecordEvent
from monitoring.services import report_submit
from outbox.models import OutboundEmail
from tests.affirmations.conftest import (
    NOW,
    open_emailed_link,
    request_agreement,
    residential,
    solved_challenge,
)

pytestmark = pytest.mark.django_db
REPS = "/api/v1/reps/"
BROWSER = {"HTTP_USER_AGENT": "Mozilla/5.0 (Phone) Tests", "REMOTE_ADDR": "198.51.100.7"}


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture(autouse=True)
def cheap_altcha(settings):
    settings.ALTCHA_CHALLENGE = {"algorithm": "SHA-256", "cost": 1, "key_prefix": "0"}


@pytest.fixture
def disclosure(db):
    return Disclosure.objects.create(version=3, text_en="You share usage data.",
                                     text_es="Usted comparte datos.", published_at=NOW)  # fmt: skip


def customer_opens_the_emailed_link(agreement):
    customer = Client()
    email = OutboundEmail.objects.get(related_label=f"agreement:{agreement.pk}")
    open_emailed_link(customer, email)
    return customer, AgreementLink.objects.get(agreement=agreement).pk


def committee_suspends(committee_member, flag, reason):
    staff = Client()
    staff.force_login(committee_member)
    staff.post(reverse("admin:monitoring_redflag_changelist"), {
        "action": "suspend_csp", "_selected_action": [flag.pk], "apply": "1", "reason": reason,
    })  # fmt: skip


def test_a_suspended_csp_is_refused_by_the_api_and_the_affirmation_page_and_notified(
    csp_api, active_csp, committee_member, disclosure
):
    agreement = request_agreement(active_csp, residential())
    customer, link = customer_opens_the_emailed_link(agreement)
    assert "opt-in-form" in customer.get("/affirm/").content.decode()
    assert csp_api.get(REPS).status_code == 200
    flag = report_submit(csp=active_csp, category="selling_sharing", description="sold my data",
                         now=NOW).flag  # fmt: skip

    committee_suspends(committee_member, flag, "Sold customer data to a broker")

    refused = csp_api.get(REPS)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "csp_not_active"
    page = customer.get("/affirm/").content.decode()
    assert "opt-in-form" not in page
    customer.post("/affirm/opt-in/", {"link": link, "acknowledge": "on", "disclosure_version": 3,
                                      "altcha": solved_challenge()}, **BROWSER)  # fmt: skip
    agreement.refresh_from_db()
    assert agreement.status == AgreementStatus.PENDING_AFFIRMATION
    assert not Record.objects.filter(agreement=agreement, event=RecordEvent.OPTED_IN).exists()
    [notice] = OutboundEmail.objects.filter(to_address=active_csp.notice_email)
    assert notice.kind == "csp_suspended"
    assert "Sold customer data to a broker" in notice.body_text


def test_the_same_opt_in_succeeds_while_the_csp_is_active(active_csp, disclosure):
    # The control for the test above: the form data is what a real opt-in posts.
    agreement = request_agreement(active_csp, residential())
    customer, link = customer_opens_the_emailed_link(agreement)
    customer.post("/affirm/opt-in/", {"link": link, "acknowledge": "on", "disclosure_version": 3,
                                      "altcha": solved_challenge()}, **BROWSER)  # fmt: skip
    agreement.refresh_from_db()
    assert agreement.status == AgreementStatus.ACTIVE
