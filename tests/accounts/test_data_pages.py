"""The account's data pages of one premise: who read its data, and Download My Data.

Reads are written as the data endpoints log them (and one through the real
endpoint); downloads are compared byte for byte with what the API serves a CSP.
"""

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.urls import reverse

from accounts.models import PremiseLink
from data_access.models import DataAccessLog
from smt_portal.calendar import CENTRAL
from tests.data_access.conftest import (  # noqa: F401 (fixtures)
    NOW,
    TODAY,
    body_of,
    disclosure,
    frozen,
    opted_in,
    read,
    residential,
    store_days_directly,
)
from tests.personas import api_client_for, make_csp

pytestmark = pytest.mark.django_db
MOVED_IN = date(2026, 3, 1)


def make_customer(name="maria"):
    user = get_user_model().objects.create_user(
        username=name, email=f"{name}@example.com", password="a long enough passphrase"
    )
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    return user


def link(user, premise, *, linked_at=NOW - timedelta(days=30), unlinked_at=None):
    return PremiseLink.objects.create(
        user=user, premise=premise, linked_at=linked_at, unlinked_at=unlinked_at,
        unlink_reason="removed" if unlinked_at else "",
    )  # fmt: skip


def logged_read(csp, premise, *, at, status=200, kind="intervals", days=1, error=""):
    return DataAccessLog.objects.create(
        created_at=at, csp=csp, agreement_id=1, esi_id=premise.esi_id, premise=premise,
        kind=kind, format="json", start=TODAY - timedelta(days=days - 1), end=TODAY,
        status_code=status, error_code=error, days=days if status == 200 else 0,
        intervals=96 * days if status == 200 else 0, ip="203.0.113.9",
    )  # fmt: skip


def at(day, hour=12):
    return datetime(day.year, day.month, day.day, hour, tzinfo=CENTRAL)


@pytest.fixture
def home(db):
    premise = residential()
    premise.occupant_since = MOVED_IN
    premise.save(update_fields=["occupant_since"])
    return premise


@pytest.fixture
def occupant(client, home, frozen):  # noqa: F811
    user = make_customer()
    link(user, home)
    client.force_login(user)
    client.user = user
    return client


def reads_url(premise):
    return reverse("accounts:premise-reads", args=[premise.pk])


def download_url(premise):
    return reverse("accounts:premise-download", args=[premise.pk])


# --- Who read the data -------------------------------------------------------------------


def test_the_reads_page_lists_only_reads_made_since_the_occupant_moved_in(occupant, home):
    csp = make_csp(legal_name="Bright Advice LLC")
    logged_read(
        csp, home, at=at(MOVED_IN - timedelta(days=1)), kind="monthly"
    )  # the former occupant's
    logged_read(csp, home, at=at(MOVED_IN), kind="daily", days=30)
    logged_read(csp, home, at=at(date(2026, 11, 20)), kind="intervals", days=7)

    response = occupant.get(reads_url(home))

    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    reads = list(response.context["page"])
    assert [r.kind for r in reads] == ["intervals", "daily"]  # newest first
    assert "Monthly usage" not in response.content.decode()
    assert "Bright Advice LLC" in response.content.decode()


def test_refused_attempts_are_counted_not_listed(occupant, home):
    csp = make_csp()
    logged_read(csp, home, at=at(date(2026, 11, 2)))
    logged_read(csp, home, at=at(date(2026, 11, 3)), status=409, error="agreement_not_active")
    logged_read(csp, home, at=at(date(2026, 11, 4)), status=422, error="outside_data_window")
    logged_read(csp, home, at=at(date(2026, 11, 5)), status=304)  # answered: nothing new

    response = occupant.get(reads_url(home))

    assert len(response.context["page"]) == 2
    assert response.context["refused"] == 2
    assert "2 attempts to read this data were refused" in response.content.decode()


def test_refusals_logged_before_the_premise_was_known_are_counted_when_they_name_it(
    occupant,
    home,
    disclosure,  # noqa: F811
):
    csp = make_csp()
    agreement = opted_in(csp, home, disclosure=disclosure)
    api = api_client_for(csp)
    before_move_in = {"start": date(2026, 2, 1), "end": date(2026, 3, 5)}
    # Outside the data window (422) and a stranger's agreement id (404): neither
    # knows the premise when it is logged.
    assert read(api, agreement, esi_id=home.esi_id, **before_move_in).status_code == 422
    stranger = type("Unknown", (), {"pk": 999_999})
    assert read(api, stranger, esi_id=home.esi_id, **before_move_in).status_code == 404
    assert DataAccessLog.objects.filter(premise__isnull=True).count() == 2

    response = occupant.get(reads_url(home))

    assert response.context["refused"] == 1  # under an agreement covering this premise


def test_without_a_move_in_date_the_reads_start_when_the_premise_was_added(client, frozen):  # noqa: F811
    premise = residential()  # occupant_since unknown
    user = make_customer()
    link(user, premise, linked_at=at(date(2026, 10, 1), 8))
    client.force_login(user)
    csp = make_csp()
    logged_read(csp, premise, at=at(date(2026, 9, 30)))
    kept = logged_read(csp, premise, at=at(date(2026, 10, 1), 9))

    response = client.get(reads_url(premise))

    assert list(response.context["page"]) == [kept]


def test_the_chart_and_its_table_give_reads_per_provider_and_month(occupant, home):
    bright, other = make_csp(legal_name="Bright Advice LLC"), make_csp(legal_name="Acme Data")
    for day in (date(2026, 10, 1), date(2026, 10, 31), date(2026, 11, 1)):
        logged_read(
            bright, home, at=at(day, 0) + timedelta(minutes=30)
        )  # just after local midnight
    logged_read(other, home, at=at(date(2026, 11, 2)), days=2)
    logged_read(other, home, at=at(date(2026, 11, 3)), status=403, error="forbidden")

    response = occupant.get(reads_url(home))

    by_csp = response.context["by_csp"]
    assert [c.name for c in by_csp] == ["Acme Data", "Bright Advice LLC"]
    acme, bright_reads = by_csp
    assert [(m.month, m.reads, m.readings) for m in acme.months] == [(date(2026, 11, 1), 1, 192)]
    assert [(m.month, m.reads) for m in bright_reads.months] == [
        (date(2026, 10, 1), 2),  # Central months, not UTC ones
        (date(2026, 11, 1), 1),
    ]
    assert [m.share for m in bright_reads.months] == [100, 50]
    page = response.content.decode()
    assert page.count('<svg class="bar"') == 3
    assert "The same figures as a table" in page


def test_the_reads_page_costs_the_same_queries_for_two_reads_or_sixty(
    occupant, home, django_assert_num_queries
):
    csps = [make_csp(legal_name=f"Provider {n}") for n in range(3)]
    for n in range(2):
        logged_read(csps[n], home, at=at(date(2026, 11, 2)) + timedelta(minutes=n))
    occupant.get(reads_url(home))  # the session and user, once
    with django_assert_num_queries(7) as few:
        occupant.get(reads_url(home))
    for n in range(58):
        logged_read(csps[n % 3], home, at=at(date(2026, 4 + n % 7, 2)) + timedelta(minutes=n))
    with django_assert_num_queries(len(few.captured_queries)):
        response = occupant.get(reads_url(home))
    assert len(response.context["page"]) == 50


def test_the_reads_are_paginated(occupant, home):
    csp = make_csp()
    for n in range(51):
        logged_read(csp, home, at=at(date(2026, 11, 1)) + timedelta(minutes=n))

    first = occupant.get(reads_url(home))
    second = occupant.get(reads_url(home), {"page": 2})

    assert len(first.context["page"]) == 50 and "Older reads" in first.content.decode()
    assert len(second.context["page"]) == 1 and "Newer reads" in second.content.decode()


def test_a_premise_not_linked_to_the_account_is_not_found(occupant, home, frozen):  # noqa: F811
    someone_else = make_customer("pedro")
    theirs = residential()
    link(someone_else, theirs)
    former = residential()
    link(occupant.user, former, unlinked_at=NOW - timedelta(days=1))

    for premise in (theirs, former):
        assert occupant.get(reads_url(premise)).status_code == 404
        assert occupant.get(download_url(premise)).status_code == 404
        assert occupant.get(download_url(premise), {"kind": "daily"}).status_code == 404
    assert occupant.get("/account/premises/999999/reads/").status_code == 404


def test_signed_out_visitors_are_sent_to_sign_in(client, home):
    for url in (reads_url(home), download_url(home)):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/account/login/?next=")


def test_the_reads_page_speaks_spanish(occupant, home):
    logged_read(make_csp(), home, at=at(date(2026, 11, 2)))
    page = occupant.get(reads_url(home), {"lang": "es"}).content.decode()
    assert '<html lang="es">' in page
    assert "Quién leyó sus datos" in page
    assert "Lecturas por proveedor y mes" in page


def test_each_read_names_its_columns_so_a_phone_shows_it_as_a_card_in_central_time(occupant, home):
    logged_read(make_csp(), home, at=at(date(2026, 11, 2)), kind="daily", days=30)
    page = occupant.get(reads_url(home), {"lang": "es"}).content.decode()
    assert page.count('class="reads stacked"') == 1 and page.count('class="stacked"') == 1
    assert 'role="cell" data-label="Cuándo"' in page
    # "Reads" (a provider reading) and "Readings" (the meter's values) say different things.
    assert 'data-label="Lecturas"' in page and 'data-label="Lecturas del medidor"' in page
    assert " CST</td>" in page


# --- Download My Data ----------------------------------------------------------------------


def test_the_download_form_proposes_the_last_month_of_the_occupancy(occupant, home):
    response = occupant.get(download_url(home))

    assert response.status_code == 200
    form = response.context["form"]
    assert form.initial["start"] == TODAY - timedelta(days=30)
    assert form.initial["end"] == TODAY
    page = response.content.decode()
    assert f'min="{MOVED_IN}"' in page and f'max="{TODAY}"' in page


@pytest.mark.parametrize(
    ("kind", "api_kind"),
    [("intervals", "interval-data"), ("daily", "daily-usage"), ("monthly", "monthly-usage")],
)
def test_the_download_is_the_same_csv_as_the_api_serves(occupant, home, disclosure, kind, api_kind):  # noqa: F811
    store_days_directly(home, date(2026, 9, 25), date(2026, 11, 22))
    csp = make_csp()
    agreement = opted_in(csp, home, disclosure=disclosure)
    api = api_client_for(csp)
    query = {"start": date(2026, 9, 28), "end": date(2026, 11, 22)}
    served = read(api, agreement, api_kind, esi_id=home.esi_id, format="csv", **query)
    expected = body_of(served)
    reads_logged = DataAccessLog.objects.count()

    response = occupant.get(download_url(home), {"kind": kind, "format": "csv", **query})

    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == served["Content-Disposition"]
    assert b"".join(response.streaming_content).decode() == expected
    # The customer's own download is not a provider's read.
    assert DataAccessLog.objects.count() == reads_logged


def test_the_download_in_green_button_xml(occupant, home):
    store_days_directly(home, date(2026, 11, 1), date(2026, 11, 3))

    response = occupant.get(
        download_url(home), {"kind": "intervals", "format": "espi", "start": "2026-11-01",
                             "end": "2026-11-03"},
    )  # fmt: skip

    assert response["Content-Type"] == "application/atom+xml"
    assert response["Content-Disposition"] == (
        f'attachment; filename="{home.esi_id}_intervals_2026-11-01_2026-11-03.xml"'
    )
    body = b"".join(response.streaming_content).decode()
    assert body.startswith("<?xml") and body.count("<espi:IntervalReading>") == 100 + 96 + 96


@pytest.mark.parametrize(
    ("start", "end", "field", "message"),
    [
        (
            "2026-02-28",
            "2026-03-10",
            "start",
            "Your data begins on 1 March 2026, when you moved in",
        ),
        ("2026-11-01", "2026-11-24", "end", "Choose today, 23 November 2026, or an earlier day."),
        ("2026-11-10", "2026-11-01", "end", "The last day is before the first day."),
        ("nonsense", "2026-11-01", "start", "Enter a valid date."),
    ],
)
def test_a_range_outside_the_rules_is_refused_with_a_clear_error(
    occupant, home, start, end, field, message
):
    response = occupant.get(
        download_url(home), {"kind": "daily", "format": "csv", "start": start, "end": end}
    )

    assert response.status_code == 400
    assert not response.streaming
    errors = response.context["form"].errors
    assert list(errors) == [field]
    assert message in errors[field][0]
    page = response.content.decode()
    assert f'id="id_{field}-error"' in page and 'aria-invalid="true"' in page


def test_at_most_366_days_at_a_time(client, frozen):  # noqa: F811
    premise = residential()
    premise.occupant_since = date(2020, 1, 1)
    premise.save(update_fields=["occupant_since"])
    user = make_customer()
    link(user, premise)
    client.force_login(user)
    year = {"kind": "monthly", "format": "csv", "end": "2026-11-22"}

    assert client.get(download_url(premise), {**year, "start": "2025-11-22"}).status_code == 200
    refused = client.get(download_url(premise), {**year, "start": "2025-11-21"})

    assert refused.status_code == 400
    assert "At most 366 days at a time" in refused.context["form"].errors["end"][0]


def test_a_move_in_in_the_future_leaves_nothing_to_download(occupant, home):
    home.occupant_since = TODAY + timedelta(days=3)
    home.save(update_fields=["occupant_since"])

    response = occupant.get(download_url(home))

    assert response.context["empty"]
    assert "there is nothing to download yet" in response.content.decode()


def test_the_download_page_speaks_spanish(occupant, home):
    response = occupant.get(
        download_url(home),
        {"kind": "daily", "format": "csv", "start": "2026-02-01", "end": "2026-03-01",
         "lang": "es"},
    )  # fmt: skip
    page = response.content.decode()
    assert "Descargar sus datos" in page
    assert "Sus datos comienzan el 1 de marzo de 2026" in page


def test_the_day_the_clock_reads_is_the_central_one(client, home):
    user = make_customer()
    link(user, home, linked_at=at(date(2026, 11, 1)))
    client.force_login(user)
    # 00:30 UTC on 24 November is still 23 November in Texas.
    with time_machine.travel(datetime(2026, 11, 24, 0, 30, tzinfo=UTC), tick=False):
        response = client.get(download_url(home))
    assert response.context["window"].last == date(2026, 11, 23)
