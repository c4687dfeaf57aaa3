"""The landing page ``/`` on a 390 px phone, in English and Spanish: it fits,
axe finds no serious or critical violation, and the keyboard reaches each of its
links; in development its extra links (outbox, API docs, admin) pass too."""

import pytest

from tests.browser.checks import overflow, serious_violations, tab_until

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("language", ["en", "es"])
def test_the_landing_page_fits_a_phone_passes_axe_and_its_links_are_reached_by_keyboard(
    portal, page, axe, language
):
    page.goto(f"{portal.url}/?lang={language}")

    assert page.locator("html").get_attribute("lang") == language
    assert overflow(page) <= 0
    assert serious_violations(page, axe) == []
    for href in ("/report/", "/providers/", "/account/"):
        tab_until(page, f"element.getAttribute('href') === {href!r}", href)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{portal.url}/account/**")


def test_in_development_the_landing_page_links_the_outbox_docs_and_admin_and_still_passes(
    portal, page, axe, settings
):
    settings.DEBUG = True

    page.goto(f"{portal.url}/?lang=en")

    assert overflow(page) <= 0
    assert serious_violations(page, axe) == []
    for name in ("Emails the portal sent (outbox)", "API docs (for CSPs)", "Staff admin"):
        assert page.get_by_role("link", name=name).is_visible()
    page.get_by_role("link", name="API docs (for CSPs)").click()
    page.wait_for_url(f"{portal.url}/api/v1/docs/")
