"""The staff-edited holiday calendar: deadlines computed after a change use it."""

from datetime import date, datetime

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from affirmations.holidays import holiday_add, holiday_remove
from affirmations.models import Holiday, Record, RecordEvent
from monitoring.seed import COMMITTEE, seed_reference_data
from smt_portal.actors import Actor
from smt_portal.calendar import CENTRAL
from tests.monitoring.conftest import staff_in

from .conftest import DEADLINE, NOW, request_agreement, residential

pytestmark = pytest.mark.django_db

THANKSGIVING = date(2026, 11, 26)
# Sent Monday 23 November: Tue, Wed, (Thu skipped), Fri, Mon, Tue.
DEADLINE_WITH_THANKSGIVING = datetime(2026, 12, 1, 23, 59, 59, 999999, tzinfo=CENTRAL)


@pytest.fixture
def committee_member():
    import io

    seed_reference_data(io.StringIO())
    return staff_in(COMMITTEE, "carla-committee")


def _actor(user):
    return Actor.staff(user, ip="198.51.100.7", user_agent="tests")


def test_a_holiday_added_moves_the_deadline_of_an_agreement_sent_after_it(
    active_csp, committee_member
):
    holiday_add(day=THANKSGIVING, name="Thanksgiving Day", actor=_actor(committee_member), now=NOW)

    agreement = request_agreement(active_csp, residential())

    assert agreement.affirmation_expires_at == DEADLINE_WITH_THANKSGIVING


def test_a_holiday_added_later_leaves_the_deadline_of_an_agreement_already_sent(
    active_csp, committee_member
):
    agreement = request_agreement(active_csp, residential())

    holiday_add(day=THANKSGIVING, name="Thanksgiving Day", actor=_actor(committee_member), now=NOW)

    agreement.refresh_from_db()
    assert agreement.affirmation_expires_at == DEADLINE
    assert agreement.links.get().expires_at == DEADLINE


def test_a_removed_holiday_counts_again_for_the_next_agreement(active_csp, committee_member):
    holiday = holiday_add(
        day=THANKSGIVING, name="Thanksgiving Day", actor=_actor(committee_member), now=NOW
    )
    holiday_remove(holiday=holiday, actor=_actor(committee_member), now=NOW)

    assert request_agreement(active_csp, residential()).affirmation_expires_at == DEADLINE


def test_adding_and_removing_a_holiday_are_recorded_with_who_and_when(committee_member):
    holiday = holiday_add(
        day=THANKSGIVING, name="Thanksgiving Day", actor=_actor(committee_member), now=NOW
    )
    holiday_remove(holiday=holiday, actor=_actor(committee_member), now=NOW)

    added, removed = Record.objects.filter(event=RecordEvent.OTHER).order_by("id")
    assert added.details == {
        "change": "holiday_added", "holiday": "2026-11-26", "name": "Thanksgiving Day"
    }  # fmt: skip
    assert removed.details["change"] == "holiday_removed"
    assert {added.actor, removed.actor} == {"carla-committee"}
    assert added.created_at == removed.created_at == NOW
    assert not Holiday.objects.exists()


def test_the_committee_adds_a_holiday_in_the_admin_and_the_next_request_counts_it(
    active_csp, committee_member
):
    client = Client()
    client.force_login(committee_member)
    with time_machine.travel(NOW, tick=False):
        response = client.post(
            reverse("admin:affirmations_holiday_add"),
            {"day": "2026-11-26", "name": "Thanksgiving Day"},
        )
    assert response.status_code == 302
    holiday = Holiday.objects.get()
    assert (holiday.created_by, holiday.created_at) == (committee_member, NOW)
    assert Record.objects.filter(details__change="holiday_added").count() == 1

    assert request_agreement(active_csp, residential()).affirmation_expires_at == (
        DEADLINE_WITH_THANKSGIVING
    )


def test_staff_without_the_permission_cannot_add_a_holiday(committee_member):
    someone = get_user_model().objects.create(username="sam-staff", is_staff=True)
    client = Client()
    client.force_login(someone)
    response = client.post(
        reverse("admin:affirmations_holiday_add"), {"day": "2026-11-26", "name": "Thanksgiving"}
    )
    assert response.status_code == 403
    assert not Holiday.objects.exists()
