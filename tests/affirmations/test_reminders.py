"""POST /api/v1/agreements/{id}/reminders/: once, same deadline, then 409."""

from datetime import timedelta

import pytest
import time_machine

from affirmations import services
from affirmations.models import AgreementLink, EndedBy, Record, RecordEvent
from outbox.models import OutboundEmail
from smt_portal.actors import Actor

from .conftest import DEADLINE, NOW, request_agreement, residential

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen")]


def remind(client, agreement):
    return client.post(f"/api/v1/agreements/{agreement.pk}/reminders/", format="json")


def test_a_reminder_is_sent_once_with_a_new_link_and_the_same_deadline(csp_api, frozen):
    agreement = request_agreement(csp_api.csp, residential())
    frozen.shift(timedelta(days=2))

    response = remind(csp_api, agreement)

    assert response.status_code == 202
    assert response.json()["affirmation_expires_at"] == DEADLINE.isoformat()
    assert response.json()["reminder_sent_at"] is not None
    links = AgreementLink.objects.filter(agreement=agreement).order_by("pk")
    assert [link.expires_at for link in links] == [DEADLINE, DEADLINE]
    assert links[0].token_hash != links[1].token_hash
    reminder = OutboundEmail.objects.get(kind="affirmation_reminder")
    assert "Monday, November 30, 2026" in reminder.body_text
    record = Record.objects.get(event=RecordEvent.REMINDER_SENT)
    assert record.details["email_id"] == reminder.pk
    assert record.created_at == NOW + timedelta(days=2)


def test_a_second_reminder_is_409_and_sends_nothing(csp_api):
    agreement = request_agreement(csp_api.csp, residential())
    assert remind(csp_api, agreement).status_code == 202

    response = remind(csp_api, agreement)

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "reminder_already_sent"
    assert OutboundEmail.objects.filter(kind="affirmation_reminder").count() == 1
    assert AgreementLink.objects.filter(agreement=agreement).count() == 2


def test_an_ended_request_is_not_reminded(csp_api):
    agreement = request_agreement(csp_api.csp, residential())
    services.agreement_terminate(
        agreement=agreement, ended_by=EndedBy.CSP, reason="", actor=Actor.system(), now=NOW
    )
    response = remind(csp_api, agreement)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "agreement_not_pending"


def test_a_request_past_its_deadline_is_not_reminded_even_before_the_sweep(csp_api):
    agreement = request_agreement(csp_api.csp, residential())
    with time_machine.travel(DEADLINE + timedelta(microseconds=1), tick=False):
        response = remind(csp_api, agreement)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "agreement_not_pending"


def test_another_csps_agreement_cannot_be_reminded(csp_api, other_csp_api):
    theirs = request_agreement(other_csp_api.csp, residential())
    assert remind(csp_api, theirs).status_code == 404
    assert not OutboundEmail.objects.filter(kind="affirmation_reminder").exists()
