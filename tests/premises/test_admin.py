"""Staff screens for TDUs, REPs, premises, meters and the term policy."""

from datetime import date

import pytest
from django.urls import reverse

from premises.models import TermPolicy
from tests.factories import make_premise, make_rep, make_tdu

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client, django_user_model):
    # No password: hashing one costs more than the rest of a test.
    user = django_user_model.objects.create(username="staff", is_staff=True, is_superuser=True)
    client.force_login(user)
    return client


ESI_ID = "10443720001234567"
METER = "123456789"


@pytest.fixture
def premise():
    return make_premise(
        esi_id=ESI_ID,
        meter_number=METER,
        monthly_kwh={date(2026, 9, 1): 1234, date(2026, 10, 1): 987},
    )


def change(model, pk):
    return reverse(f"admin:premises_{model}_change", args=[pk])


@pytest.mark.parametrize(
    "model", ["tdu", "retailelectricprovider", "premise", "meter", "termpolicy"]
)
def test_staff_can_open_every_changelist(staff_client, premise, model):
    TermPolicy.current()
    assert staff_client.get(reverse(f"admin:premises_{model}_changelist")).status_code == 200


def test_staff_can_open_every_change_page(staff_client, premise):
    pages = [
        change("tdu", make_tdu().pk),
        change("retailelectricprovider", make_rep().pk),
        change("premise", premise.pk),
        change("meter", premise.meters.get().pk),
        change("termpolicy", TermPolicy.current().pk),
    ]
    for page in pages:
        assert staff_client.get(page).status_code == 200, page


def test_the_premise_page_shows_its_recent_usage_and_meters(staff_client, premise):
    response = staff_client.get(change("premise", premise.pk))
    assert b"2026-10" in response.content and b"987.000 kWh" in response.content
    assert METER.encode() in response.content


def search(staff_client, model, term):
    response = staff_client.get(reverse(f"admin:premises_{model}_changelist"), {"q": term})
    assert response.status_code == 200
    return list(response.context["cl"].result_list)


def test_searching_by_esi_id_finds_the_premise_as_pasted(staff_client, premise):
    make_premise()
    assert search(staff_client, "premise", ESI_ID) == [premise]
    assert search(staff_client, "premise", "'1044372-0001 234 567") == [premise]


def test_searching_by_meter_number_finds_the_premise(staff_client, premise):
    make_premise()
    assert search(staff_client, "premise", METER) == [premise]
    assert search(staff_client, "meter", METER) == [premise.meters.get()]


def test_the_term_policy_is_editable(staff_client):
    policy = TermPolicy.current()
    response = staff_client.post(
        change("termpolicy", policy.pk),
        {
            "standard_max_months": 24,
            "large_commercial_max_months": 36,
            "large_commercial_threshold_kwh": "15000",
            "sharing_reminder_days": 60,
            "term_end_notice_days": 14,
            "history_window_months": 18,
            "renewal_window_days": 45,
        },
    )
    assert response.status_code == 302
    assert TermPolicy.current().standard_max_months == 24
    assert TermPolicy.current().sharing_reminder_days == 60
    assert TermPolicy.current().term_end_notice_days == 14
    assert TermPolicy.current().history_window_months == 18
    assert TermPolicy.current().renewal_window_days == 45


def test_a_second_term_policy_cannot_be_added_nor_the_first_deleted(staff_client):
    policy = TermPolicy.current()
    assert staff_client.get(reverse("admin:premises_termpolicy_add")).status_code == 403
    delete = reverse("admin:premises_termpolicy_delete", args=[policy.pk])
    assert staff_client.post(delete, {"post": "yes"}).status_code == 403
    assert TermPolicy.objects.count() == 1


def test_the_term_policy_can_be_added_when_none_exists(staff_client):
    assert staff_client.get(reverse("admin:premises_termpolicy_add")).status_code == 200
