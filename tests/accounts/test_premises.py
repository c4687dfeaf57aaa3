"""Adding a premise to an account: the API's check, its budget, one occupant per premise."""

import re
from datetime import date, timedelta

import pytest
from django.urls import reverse

from accounts.models import AccountEvent, PremiseLink
from monitoring.models import PremiseAuthenticationAttempt
from premises.models import AuthenticationFailure
from tests.affirmations.conftest import NOW, residential, triple
from tests.affirmations.test_move_in import feed_row, import_premises
from tests.factories import make_rep

from .conftest import link_premise, make_customer, signed_in

pytestmark = pytest.mark.django_db
ADD = reverse("accounts:premise-add")


def add(client, esi_id, meter_number, certificate, **extra):
    return client.post(
        ADD,
        {"esi_id": esi_id, "meter_number": meter_number, "rep_certificate_number": certificate},
        **extra,
    )


def refusal(response):
    """The refusal panel of the page, the whole of what it says about the facts."""
    [panel] = re.findall(r'<div class="panel warn" role="alert">.*?</div>', response.text, re.S)
    return panel


def test_a_customer_adds_a_premise_by_its_three_facts_and_the_attempt_is_recorded(
    customer, customer_client, frozen
):
    premise = residential()

    response = add(customer_client, *triple(premise), REMOTE_ADDR="198.51.100.20")

    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:dashboard")
    link = PremiseLink.objects.get(user=customer, premise=premise)
    assert (link.linked_at, link.unlinked_at) == (NOW, None)
    [attempt] = PremiseAuthenticationAttempt.objects.all()
    assert (attempt.csp, attempt.ip, attempt.authenticated) == (None, "198.51.100.20", True)
    [event] = AccountEvent.objects.filter(kind="premise_linked")
    assert (event.account_ref, event.details["esi_id"]) == (customer.pk, premise.esi_id)


def test_the_form_offers_the_providers_of_the_api_drop_down(customer_client):
    make_rep("10098", legal_name="Lone Star Power LLC")
    make_rep("10099", legal_name="Retired Power LLC", active=False)

    page = customer_client.get(ADD).text

    assert '<option value="10098">Lone Star Power LLC (10098)</option>' in page
    assert "Retired Power" not in page


def test_wrong_facts_get_one_identical_refusal_whichever_was_wrong_and_each_is_recorded(
    customer, customer_client, frozen
):
    premise = residential()
    make_rep("10098")
    esi_id, meter, certificate = triple(premise)
    unknown_esi_id = esi_id[:-1] + ("1" if esi_id[-1] != "1" else "2")

    answers = [
        add(customer_client, unknown_esi_id, meter, certificate),
        add(customer_client, esi_id, "X" + meter, certificate),
        add(customer_client, esi_id, meter, "10098"),
    ]

    assert {response.status_code for response in answers} == {422}
    assert len({refusal(response) for response in answers}) == 1
    assert "These facts do not match a premise." in refusal(answers[0])
    reasons = PremiseAuthenticationAttempt.objects.order_by("pk").values_list(
        "failure_reason", flat=True
    )
    assert list(reasons) == [
        AuthenticationFailure.UNKNOWN_ESI_ID,
        AuthenticationFailure.METER_MISMATCH,
        AuthenticationFailure.REP_MISMATCH,
    ]
    assert not PremiseLink.objects.exists()


def test_a_malformed_esi_id_is_a_form_error_and_checks_nothing(customer_client, frozen):
    response = add(customer_client, "12345", "M1", "10004")

    assert response.status_code == 400
    assert "17 or 22 digits" in response.text
    assert not PremiseAuthenticationAttempt.objects.exists()


def test_once_the_accounts_budget_is_spent_nothing_more_is_checked(
    customer, customer_client, settings, frozen
):
    settings.CUSTOMER_PREMISE_CHECKS_PER_ACCOUNT = "2/h"
    premise = residential()
    esi_id, meter, certificate = triple(premise)
    add(customer_client, esi_id, "X" + meter, certificate)
    add(customer_client, esi_id, "Y" + meter, certificate)

    response = add(customer_client, esi_id, meter, certificate)  # right, but too late

    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1
    assert "Too many attempts." in response.text
    assert PremiseAuthenticationAttempt.objects.count() == 2
    assert not PremiseLink.objects.exists()


def test_the_ip_budget_counts_every_account_behind_the_address(settings, frozen):
    settings.CUSTOMER_PREMISE_CHECKS_PER_IP = "2/h"
    premise = residential()
    esi_id, meter, certificate = triple(premise)
    for name in ("ann", "bob"):
        add(signed_in(make_customer(name)), esi_id, "X" + meter, certificate)

    response = add(signed_in(make_customer("cy")), esi_id, meter, certificate)

    assert response.status_code == 429
    assert PremiseAuthenticationAttempt.objects.count() == 2
    # Another address still has its budget.
    other = add(signed_in(make_customer("di")), *triple(premise), REMOTE_ADDR="192.0.2.40")
    assert other.status_code == 302


def test_another_occupants_premise_is_refused_with_a_clear_message(
    customer_client, neighbour, frozen
):
    premise = residential()
    theirs = link_premise(neighbour, premise, linked_at=NOW - timedelta(days=30))

    response = add(customer_client, *triple(premise))

    assert response.status_code == 409
    assert "This premise belongs to another account." in refusal(response)
    theirs.refresh_from_db()
    assert theirs.unlinked_at is None
    assert PremiseLink.objects.count() == 1
    [attempt] = PremiseAuthenticationAttempt.objects.all()
    assert attempt.authenticated  # the facts were right: recorded as such


def test_a_new_occupant_takes_the_premise_over_from_the_former_ones_account(
    customer, customer_client, neighbour, frozen
):
    premise = residential()
    former = link_premise(neighbour, premise, linked_at=NOW - timedelta(days=60))
    premise.occupant_since = NOW.date() - timedelta(days=10)
    premise.save()

    response = add(customer_client, *triple(premise))

    assert response.status_code == 302
    former.refresh_from_db()
    assert (former.unlinked_at, former.unlink_reason) == (NOW, "occupant_changed")
    assert PremiseLink.objects.get(premise=premise, unlinked_at__isnull=True).user == customer
    [unlinked] = AccountEvent.objects.filter(kind="premise_unlinked")
    assert (unlinked.account_ref, unlinked.details["reason"]) == (neighbour.pk, "occupant_changed")


def test_adding_ones_own_premise_again_changes_nothing(customer, customer_client, frozen):
    premise = residential()
    mine = link_premise(customer, premise, linked_at=NOW - timedelta(days=3))

    response = add(customer_client, *triple(premise))

    assert response.status_code == 302
    assert list(PremiseLink.objects.all()) == [mine]


def test_a_move_in_from_the_feed_closes_the_former_occupants_link(customer, tmp_path):
    former = residential()
    still_mine = residential()
    # Linked on Monday 23 November; the feed (Friday 27th) says someone moved in on the 25th.
    link_premise(customer, former, linked_at=NOW)
    link_premise(customer, still_mine, linked_at=NOW)

    import_premises(
        tmp_path,
        feed_row(former, occupant_since=date(2026, 11, 25)),
        # The customer's own move-in, before they added it: not a new occupant.
        feed_row(still_mine, occupant_since=date(2026, 11, 20)),
    )

    closed = PremiseLink.objects.get(premise=former)
    assert closed.unlinked_at is not None
    assert closed.unlink_reason == "occupant_changed"
    assert PremiseLink.objects.get(premise=still_mine).unlinked_at is None
    [event] = AccountEvent.objects.filter(kind="premise_unlinked")
    assert event.details == {
        "premise_id": former.pk, "esi_id": former.esi_id, "reason": "occupant_changed"
    }  # fmt: skip


def test_the_customer_removes_a_premise_from_the_account(customer, customer_client, frozen):
    premise = residential()
    link = link_premise(customer, premise)

    response = customer_client.post(reverse("accounts:premise-remove", args=[premise.pk]))

    assert response.status_code == 302
    link.refresh_from_db()
    assert (link.unlinked_at, link.unlink_reason) == (NOW, "removed")
    assert AccountEvent.objects.filter(kind="premise_unlinked", account_ref=customer.pk).exists()
    # No longer one of the account's premises.
    again = customer_client.post(reverse("accounts:premise-remove", args=[premise.pk]))
    assert again.status_code == 404


def test_another_account_cannot_remove_my_premise(customer, neighbour_client, frozen):
    premise = residential()
    link = link_premise(customer, premise)

    response = neighbour_client.post(reverse("accounts:premise-remove", args=[premise.pk]))

    assert response.status_code == 404
    link.refresh_from_db()
    assert link.unlinked_at is None


def test_signed_out_visitors_are_sent_to_sign_in(client):
    response = client.get(ADD)

    assert response.status_code == 302
    assert response["Location"].startswith("/account/login/?next=")


def test_the_add_page_speaks_spanish(customer_client):
    page = customer_client.get(ADD, {"lang": "es"}).text

    assert "Agregar un inmueble" in page
