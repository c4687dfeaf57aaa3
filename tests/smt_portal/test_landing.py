"""``/``: the customers' landing page, where the admin's "View site" goes too."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

pytestmark = pytest.mark.django_db


def _links(response):
    return response.content.decode()


def test_the_home_page_says_what_the_portal_is_and_links_the_report_the_providers_and_the_account(
    client,
):
    response = client.get("/?lang=en")

    assert response.status_code == 200
    assert "base.html" in [template.name for template in response.templates]
    page = _links(response)
    assert "Share your smart-meter data, on your terms" in page
    for href in ('href="/report/"', 'href="/providers/"', 'href="/account/"'):
        assert href in page


def test_the_home_page_is_in_spanish_for_a_spanish_speaker(client):
    page = _links(client.get("/?lang=es"))

    assert 'lang="es"' in page
    assert "Comparta los datos de su medidor inteligente" in page
    assert "Use el enlace que contiene" in page
    assert "Share your smart-meter data" not in page


def test_in_development_the_home_page_links_the_outbox_the_api_docs_and_the_admin(client, settings):
    settings.DEBUG = True

    page = _links(client.get("/?lang=en"))

    for href in ('href="/dev/outbox/"', 'href="/api/v1/docs/"', 'href="/admin/"'):
        assert href in page


def test_in_production_the_home_page_has_no_development_links(client, settings):
    settings.DEBUG = False

    page = _links(client.get("/?lang=en"))

    for href in ("/dev/outbox/", "/api/v1/docs/", 'href="/admin/"'):
        assert href not in page


def test_the_admins_view_site_link_opens_the_landing_page(settings):
    settings.STAFF_MFA_REQUIRED = False
    staff = get_user_model().objects.create(username="root", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(staff)

    admin_home = client.get("/admin/")

    assert admin_home.status_code == 200
    assert admin_home.context["site_url"] == "/"
    assert client.get(admin_home.context["site_url"]).status_code == 200


def test_the_home_page_changes_nothing_on_post(client):
    assert client.post("/").status_code == 405
