"""A session id planted in the customer's browser gains nothing from the link.

Every emailed link (affirmation, renewal, stop sharing) moves its token into
the session; the session gets a new key at that moment (session fixation).
"""

import pytest
from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore
from django.test import Client

from affirmations.models import Agreement, AgreementLink, AgreementStatus
from outbox.models import OutboundEmail

from .conftest import link_path, request_agreement, residential

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen", "disclosure")]


def planted_session():
    """A session the attacker made, whose id they put into the victim's browser."""
    store = SessionStore()
    store["planted"] = True
    store.create()
    return store.session_key


def browser_with(session_key):
    browser = Client()
    browser.cookies[settings.SESSION_COOKIE_NAME] = session_key
    return browser


def test_opening_a_link_gives_the_session_a_new_key(active_csp):
    request_agreement(active_csp, residential())
    planted = planted_session()
    victim = browser_with(planted)
    response = victim.get(link_path(OutboundEmail.objects.get()))
    assert response.status_code == 302
    assert victim.cookies[settings.SESSION_COOKIE_NAME].value != planted
    assert not SessionStore().exists(planted), "the planted session is gone"


def test_the_attacker_holding_the_planted_id_cannot_decide_for_the_customer(active_csp):
    agreement = request_agreement(active_csp, residential())
    planted = planted_session()
    browser_with(planted).get(link_path(OutboundEmail.objects.get()))
    link = AgreementLink.objects.get(agreement=agreement).pk
    attacker = browser_with(planted)
    attacker.post("/affirm/opt-out/", {"link": link})
    assert Agreement.objects.get().status == AgreementStatus.PENDING_AFFIRMATION


def test_the_customer_keeps_the_link_after_the_new_key(active_csp):
    agreement = request_agreement(active_csp, residential())
    victim = browser_with(planted_session())
    victim.get(link_path(OutboundEmail.objects.get()))
    link = AgreementLink.objects.get(agreement=agreement).pk
    assert victim.get("/affirm/").status_code == 200
    victim.post("/affirm/opt-out/", {"link": link})
    assert Agreement.objects.get().status == AgreementStatus.OPTED_OUT
