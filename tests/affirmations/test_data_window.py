"""The data window (glossary): the history a customer agrees to share, shown on the
affirmation page in words and stored with the agreement and the record."""

from datetime import date

import pytest

from affirmations import services
from affirmations.models import Record, RecordEvent
from outbox.models import OutboundEmail
from premises.models import TermPolicy
from smt_portal.actors import Actor

from .conftest import NOW, open_emailed_link, request_agreement, residential

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen", "disclosure")]
WHO = {"actor": Actor.customer(ip="198.51.100.7", user_agent="Tests")}


def _page(client, csp, language):
    request_agreement(csp, residential(), language=language)
    open_emailed_link(client, OutboundEmail.objects.get(kind="affirmation_request"))
    return client.get("/affirm/").content.decode()


@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("en", "Data from 23 November 2025 until your agreement ends."),
        ("es", "Datos desde el 23 de noviembre de 2025 hasta que termine su acuerdo."),
    ],
)
def test_the_page_shows_the_data_window_in_words(active_csp, client, language, words):
    assert words in _page(client, active_csp, language)


def test_the_page_follows_the_staff_set_window(active_csp, client):
    TermPolicy.objects.update_or_create(pk=1, defaults={"history_window_months": 24})
    assert "Data from 23 November 2024 until" in _page(client, active_csp, "en")


def test_opting_in_stores_the_window_with_the_agreement_and_the_record(active_csp):
    TermPolicy.objects.update_or_create(pk=1, defaults={"history_window_months": 6})
    agreement = request_agreement(active_csp, residential())

    agreed = services.agreement_opt_in(
        agreement=agreement, disclosure=services.disclosure_current(), now=NOW, **WHO
    )

    assert (agreed.history_months, agreed.data_from) == (6, date(2026, 5, 23))
    details = Record.objects.get(event=RecordEvent.OPTED_IN).details
    assert (details["history_months"], details["data_from"]) == (6, "2026-05-23")
    # A later change of policy leaves the agreement's window alone.
    TermPolicy.objects.filter(pk=1).update(history_window_months=24)
    agreed.refresh_from_db()
    assert agreed.data_from == date(2026, 5, 23)
