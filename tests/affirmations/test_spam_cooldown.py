"""After a spam report, the same CSP may not ask for the same ESI ID again for
the staff-set cooldown: 409 cooldown_active."""

from datetime import timedelta

import pytest
import time_machine

from affirmations.models import Agreement, AgreementStatus
from affirmations.services import CooldownActive, agreement_report_spam
from monitoring.models import MonitoringSettings
from smt_portal.actors import Actor

from .conftest import NOW, premise_json, request_agreement, residential

pytestmark = pytest.mark.django_db

URL = "/api/v1/agreements/"


def reported_as_spam(csp, premise, *, at=NOW):
    agreement = request_agreement(csp, premise, now=at)
    agreement_report_spam(
        agreement=agreement,
        actor=Actor.customer(ip="198.51.100.7", user_agent="browser"),
        now=at + timedelta(hours=1),
    )
    agreement.refresh_from_db()
    assert agreement.status == AgreementStatus.REPORTED_SPAM
    return agreement


def post(client, premise):
    body = {
        "premises": [premise_json(premise)],
        "customer_email": "jo@example.com",
        "term_months": 6,
    }
    return client.post(URL, body, format="json")


def test_the_same_csp_asking_again_within_the_cooldown_gets_409_cooldown_active(
    active_csp, csp_api
):
    home = residential()
    reported_as_spam(active_csp, home)

    with time_machine.travel(NOW + timedelta(days=89), tick=False):
        response = post(csp_api, home)

    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "cooldown_active"
    assert error["esi_ids"] == [home.esi_id]
    assert Agreement.objects.filter(csp=active_csp).count() == 1


def test_after_the_cooldown_the_csp_may_ask_again(active_csp, csp_api):
    home = residential()
    reported_as_spam(active_csp, home)

    with time_machine.travel(NOW + timedelta(days=91), tick=False):
        response = post(csp_api, home)

    assert response.status_code == 201, response.json()


def test_another_csp_is_not_held_back_by_someone_elses_spam_report(active_csp, other_csp):
    home = residential()
    reported_as_spam(active_csp, home)

    agreement = request_agreement(other_csp, home, now=NOW + timedelta(days=2))

    assert agreement.status == AgreementStatus.PENDING_AFFIRMATION


def test_staff_set_the_cooldown_period(active_csp):
    home = residential()
    reported_as_spam(active_csp, home)
    MonitoringSettings.current()
    MonitoringSettings.objects.update(spam_cooldown_days=10)

    with pytest.raises(CooldownActive):
        request_agreement(active_csp, home, now=NOW + timedelta(days=9))
    assert request_agreement(active_csp, home, now=NOW + timedelta(days=11)).pk
