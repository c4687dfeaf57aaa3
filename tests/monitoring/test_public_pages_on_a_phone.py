"""/providers/ and /report/ for every customer (issue 17): the register stacks as
cards (no table to scroll sideways on a phone), and the report form points
screen readers only at ids that exist, labels nothing with an empty ``for``, and
speaks the challenge's own words in Spanish on the Spanish page."""

import re

import pytest
from altcha_django.results import ErrorCode
from django.utils import translation

from monitoring.forms import ReportForm

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def cheap_altcha(settings):
    settings.ALTCHA_CHALLENGE = {"algorithm": "SHA-256", "cost": 1, "key_prefix": "0"}


def _ids(html):
    return set(re.findall(r'\sid="([^"]+)"', html))


def _described_by(html):
    return {i for value in re.findall(r'aria-describedby="([^"]+)"', html) for i in value.split()}


def test_the_register_is_a_stack_of_cards_with_no_table(client, active_csp, suspended_csp):
    html = client.get("/providers/?lang=es").content.decode()

    assert "<table" not in html and 'class="table-scroll"' not in html
    cards = re.findall(r"<li>\s*<h2>", html)
    assert len(cards) == 2
    assert "Estado" in html and "Suspendido" in html and "Denuncias confirmadas" in html


@pytest.mark.parametrize("lang", ["en", "es"])
def test_every_aria_describedby_of_the_report_form_names_an_element_of_the_page(
    client, active_csp, lang
):
    empty = client.get(f"/report/?lang={lang}").content.decode()
    refused = client.post(
        f"/report/?lang={lang}", {"description": "x", "contact_email": "not-an-email",
                                  "esi_id": "12", "altcha": "forged"},
    ).content.decode()  # fmt: skip

    for html in (empty, refused):
        assert _described_by(html), "the help and error texts are described"
        assert _described_by(html) <= _ids(html)
        assert 'for=""' not in html


@pytest.mark.parametrize("code", [code.value for code in ErrorCode])
def test_every_way_the_challenge_can_fail_is_told_in_spanish_on_the_spanish_page(active_csp, code):
    form = ReportForm(language="es")
    with translation.override("en"):
        english = str(form.fields["altcha"].error_messages[code])
    with translation.override("es"):
        spanish = str(form.fields["altcha"].error_messages[code])

    assert "ALTCHA" not in english  # the portal's words, not the library's
    assert spanish != english and "robot" in spanish


def test_the_spanish_report_page_speaks_spanish_in_the_widget_too(client, active_csp):
    html = client.get("/report/?lang=es").content.decode()

    assert 'language="es"' in html and "altcha_django/i18n/all.js" in html
