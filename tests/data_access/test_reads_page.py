"""/end/reads/: the customer sees when the CSP read which of their data, from the
same emailed link as "stop sharing", in English and Spanish."""

from datetime import timedelta

import pytest
from django.test import Client

from outbox.models import OutboundEmail
from tests.affirmations.conftest import link_path

from .conftest import TODAY, body_of, opted_in, read, store_days

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen")]


@pytest.fixture
def shared(tmp_path, active_csp, disclosure, home):
    agreement = opted_in(active_csp, home, disclosure=disclosure)
    store_days(tmp_path, home, TODAY - timedelta(days=2), TODAY)
    return agreement, home


def customer_browser():
    client = Client()
    receipt = OutboundEmail.objects.filter(kind="receipt_opted_in").latest("pk")
    assert client.get(link_path(receipt, "end")).status_code == 302
    return client


def test_the_customer_sees_each_read_newest_first(csp_api, other_csp_api, shared, frozen):
    agreement, home = shared
    body_of(read(csp_api, agreement, esi_id=home.esi_id, start=TODAY - timedelta(days=2),
                 end=TODAY))  # fmt: skip
    frozen.shift(timedelta(hours=1))
    body_of(read(csp_api, agreement, "monthly-usage", esi_id=home.esi_id, start=TODAY, end=TODAY))
    read(csp_api, agreement, esi_id=home.esi_id, start=TODAY, end=TODAY + timedelta(days=1))
    read(other_csp_api, agreement, esi_id=home.esi_id, start=TODAY, end=TODAY)  # 404: not theirs

    browser = customer_browser()
    assert "/end/reads/" in browser.get("/end/").content.decode()
    page = browser.get("/end/reads/")

    assert page.status_code == 200
    assert page["Cache-Control"] == "no-store"
    text = page.content.decode()
    rows = text.split("<tbody>")[1].split("</tbody>")[0].split("<tr>")[1:]
    assert len(rows) == 2  # served reads only, not the refused ones
    assert "Monthly usage" in rows[0] and "15-minute usage" in rows[1]
    assert "21 Nov 2026 – 23 Nov 2026" in rows[1] and ">" + str(96 * 3) + "<" in rows[1]
    assert home.esi_id in rows[0]


def test_the_page_is_in_spanish_for_a_spanish_agreement(csp_api, shared):
    agreement, home = shared
    body_of(read(csp_api, agreement, esi_id=home.esi_id, start=TODAY, end=TODAY))
    page = customer_browser().get("/end/reads/?lang=es").content.decode()
    assert "Consumo cada 15 minutos" in page
    assert "leyó sus datos" in page


def test_without_the_link_the_page_shows_nothing(shared):
    response = Client().get("/end/reads/")
    assert response.status_code == 404
    assert "ESI ID" not in response.content.decode()


def test_before_any_read_the_page_says_so(shared):
    text = customer_browser().get("/end/reads/").content.decode()
    assert "has not read any of your data" in text
