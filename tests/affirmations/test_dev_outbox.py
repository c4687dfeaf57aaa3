"""/dev/outbox/: a newcomer clicks the emails' links, only while DEBUG is on."""

import pytest

from outbox.models import OutboundEmail
from smt_portal.sealed_tokens import tokens_in

from .conftest import request_agreement, residential

pytestmark = pytest.mark.django_db


def test_the_outbox_lists_emails_and_shows_their_links_live(client, settings, active_csp):
    settings.DEBUG = True
    request_agreement(active_csp, residential())
    email = OutboundEmail.objects.get()

    listing = client.get("/dev/outbox/").content.decode()
    assert email.subject in listing

    page = client.get(f"/dev/outbox/{email.pk}/").content.decode()
    [token] = tokens_in(email.body_text)
    assert f'href="{settings.SITE_URL}/affirm/{token}/"' in page
    assert "[[sealed" not in page


def test_the_outbox_does_not_exist_without_debug(client, settings, active_csp):
    settings.DEBUG = False
    request_agreement(active_csp, residential())
    email = OutboundEmail.objects.get()
    assert client.get("/dev/outbox/").status_code == 404
    assert client.get(f"/dev/outbox/{email.pk}/").status_code == 404
