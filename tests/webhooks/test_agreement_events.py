"""Real transitions reach the receiver: the agreement as the API shows it, signed."""

import pytest
from standardwebhooks.webhooks import Webhook

from affirmations import services
from smt_portal.actors import Actor
from tests.affirmations.conftest import NOW, request_agreement, residential
from tests.personas import api_client_for

pytestmark = pytest.mark.django_db
WHO = {"actor": Actor.customer(ip="198.51.100.7", user_agent="Mozilla/5.0 Tests")}


def test_an_opt_in_is_posted_as_agreement_affirmed_with_the_apis_own_representation(
    endpoint,
    receiver,
    disclosure,
    django_capture_on_commit_callbacks,
):
    agreement = request_agreement(endpoint.csp, residential(), now=NOW)
    assert receiver.requests == []  # a request is not an event
    with django_capture_on_commit_callbacks(execute=True):
        services.agreement_opt_in(agreement=agreement, disclosure=disclosure, now=NOW, **WHO)
    [request] = receiver.requests
    payload = Webhook(endpoint.secret).verify(request["body"], request["headers"])
    assert payload["type"] == "agreement.affirmed"
    shown = api_client_for(endpoint.csp).get(f"/api/v1/agreements/{agreement.pk}/").json()
    assert payload["data"]["agreement"] == shown
    assert agreement.customer_email not in request["body"]


def test_a_customers_opt_out_is_posted_and_is_in_the_feed(
    endpoint, receiver, django_capture_on_commit_callbacks
):
    agreement = request_agreement(endpoint.csp, residential(), now=NOW)
    with django_capture_on_commit_callbacks(execute=True):
        services.agreement_opt_out(agreement=agreement, now=NOW, **WHO)
    [payload] = receiver.payloads()
    assert payload["type"] == "agreement.opted_out"
    feed = api_client_for(endpoint.csp).get("/api/v1/events/").json()
    assert feed["events"] == [payload]
