"""POST/GET/DELETE /api/v1/webhook-endpoints/, deliveries and resending, through the API."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from standardwebhooks.webhooks import Webhook

from csp_registry.models import IdempotencyKey
from webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint

from .conftest import HOOK_HOST, emit

pytestmark = pytest.mark.django_db

URL = "/api/v1/webhook-endpoints/"
GOOD = {"url": f"https://{HOOK_HOST}/smt", "events": ["agreement.affirmed", "csp.suspended"]}


def test_registering_an_endpoint_answers_its_secret_once(csp_api):
    response = csp_api.post(URL, GOOD, format="json")
    assert response.status_code == 201
    body = response.json()
    assert body["url"] == GOOD["url"] and body["events"] == GOOD["events"]
    assert body["secret"].startswith("whsec_") and len(body["secret"]) == 50
    assert body["secret_prefix"] == body["secret"][:10]
    Webhook(body["secret"])  # the reference implementation accepts it
    listed = csp_api.get(URL).json()
    assert [e["id"] for e in listed] == [body["id"]]
    assert "secret" not in listed[0]
    assert body["secret"] not in csp_api.get(URL).content.decode()


def test_the_secret_is_not_stored_anywhere_and_a_replay_repeats_it(csp_api):
    headers = {"Idempotency-Key": "endpoint-1"}
    first = csp_api.post(URL, GOOD, format="json", headers=headers).json()
    again = csp_api.post(URL, GOOD, format="json", headers=headers)
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first
    assert WebhookEndpoint.objects.count() == 1
    stored = IdempotencyKey.objects.get().response_body
    assert first["secret"] not in stored and first["secret"][6:] not in stored
    endpoint = WebhookEndpoint.objects.get()
    assert first["secret"] not in str(WebhookEndpoint.objects.filter(pk=endpoint.pk).values().get())


@pytest.mark.parametrize(
    "body, field",
    [
        ({"url": "http://hooks.example.com/smt", "events": ["agreement.affirmed"]}, "url"),
        ({"url": "https://10.0.0.8/smt", "events": ["agreement.affirmed"]}, "url"),
        ({"url": "https://169.254.169.254/", "events": ["agreement.affirmed"]}, "url"),
        ({"url": "https://hooks.example.com/smt", "events": []}, "events"),
        ({"url": "https://hooks.example.com/smt", "events": ["agreement.eaten"]}, "events"),
        ({"events": ["agreement.affirmed"]}, "url"),
    ],
)
def test_a_refused_registration_is_400_invalid_naming_the_field(csp_api, settings, body, field):
    settings.WEBHOOKS_ALLOW_INSECURE_LOCAL = False
    response = csp_api.post(URL, body, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid" and list(error["fields"]) == [field]
    assert not WebhookEndpoint.objects.exists()


def test_a_provider_may_register_at_most_ten_endpoints(csp_api):
    for _ in range(10):
        assert csp_api.post(URL, GOOD, format="json").status_code == 201
    response = csp_api.post(URL, GOOD, format="json")
    assert (
        response.status_code == 400 and "At most 10" in response.json()["error"]["fields"]["url"][0]
    )


def test_deleting_an_endpoint_is_204_and_it_disappears_from_the_list(csp_api):
    endpoint_id = csp_api.post(URL, GOOD, format="json").json()["id"]
    assert csp_api.delete(f"{URL}{endpoint_id}/").status_code == 204
    assert csp_api.get(URL).json() == []
    assert WebhookEndpoint.objects.get(pk=endpoint_id).deleted_at is not None  # kept
    assert csp_api.delete(f"{URL}{endpoint_id}/").status_code == 404


def test_another_providers_endpoint_is_not_found(csp_api, other_csp_api):
    endpoint_id = csp_api.post(URL, GOOD, format="json").json()["id"]
    assert other_csp_api.delete(f"{URL}{endpoint_id}/").json()["error"]["code"] == "not_found"
    assert other_csp_api.get(f"{URL}{endpoint_id}/deliveries/").status_code == 404
    assert other_csp_api.get(URL).json() == []
    assert WebhookEndpoint.objects.get(pk=endpoint_id).deleted_at is None


@pytest.mark.parametrize("persona", ["suspended_csp_api", "revoked_csp_api", "pending_csp_api"])
def test_only_an_active_provider_manages_endpoints(persona, request):
    client = request.getfixturevalue(persona)
    assert client.post(URL, GOOD, format="json").json()["error"]["code"] == "csp_not_active"
    assert client.get(URL).status_code == 403


def _deliveries(client, endpoint):
    return client.get(f"{URL}{endpoint.pk}/deliveries/")


def test_the_provider_sees_each_delivery_with_its_attempts(
    endpoint, receiver, django_capture_on_commit_callbacks
):
    from tests.personas import api_client_for

    client = api_client_for(endpoint.csp)
    receiver.answer_with(500, b"oops")
    with django_capture_on_commit_callbacks(execute=True):
        [event] = emit(endpoint.csp)
    [delivery] = _deliveries(client, endpoint).json()["results"]
    assert delivery["event_id"] == event.public_id and delivery["status"] == "pending"
    assert delivery["next_attempt_at"] is not None
    [attempt] = delivery["attempts"]
    assert attempt["status_code"] == 500 and attempt["response_excerpt"] == "oops"


def test_the_deliveries_list_costs_the_same_queries_for_one_row_or_many(
    endpoint, receiver, django_capture_on_commit_callbacks
):
    from tests.personas import api_client_for

    client = api_client_for(endpoint.csp)
    with django_capture_on_commit_callbacks(execute=True):
        emit(endpoint.csp)
    _deliveries(client, endpoint)  # the key's first use is recorded once: not counted
    with CaptureQueriesContext(connection) as one:
        assert len(_deliveries(client, endpoint).json()["results"]) == 1
    receiver.default = (500, b"", {})
    with django_capture_on_commit_callbacks(execute=True):
        emit(endpoint.csp, count=12, agreement_id=10)
    with CaptureQueriesContext(connection) as many:
        assert len(_deliveries(client, endpoint).json()["results"]) == 13
    assert len(many) == len(one)


def test_the_endpoints_list_costs_the_same_queries_for_one_row_or_many(csp_api):
    csp_api.post(URL, GOOD, format="json")  # also the key's first use, recorded once
    with CaptureQueriesContext(connection) as one:
        csp_api.get(URL)
    for _ in range(5):
        csp_api.post(URL, GOOD, format="json")
    with CaptureQueriesContext(connection) as many:
        assert len(csp_api.get(URL).json()) == 6
    assert len(many) == len(one)


def test_the_provider_resends_a_delivery_it_received(
    endpoint, receiver, django_capture_on_commit_callbacks
):
    from tests.personas import api_client_for

    client = api_client_for(endpoint.csp)
    with django_capture_on_commit_callbacks(execute=True):
        [event] = emit(endpoint.csp)
    delivery = WebhookDelivery.objects.get(event=event)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"{URL}{endpoint.pk}/deliveries/{delivery.pk}/resend/")
    assert response.status_code == 202
    assert receiver.ids() == [event.public_id, event.public_id]  # the same webhook-id
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED
    assert len(_deliveries(client, endpoint).json()["results"][0]["attempts"]) == 2


def test_a_delivery_of_a_deleted_endpoint_is_not_resent(
    endpoint, receiver, django_capture_on_commit_callbacks
):
    from tests.personas import api_client_for

    client = api_client_for(endpoint.csp)
    with django_capture_on_commit_callbacks(execute=True):
        [event] = emit(endpoint.csp)
    delivery = WebhookDelivery.objects.get(event=event)
    client.delete(f"{URL}{endpoint.pk}/")
    response = client.post(f"{URL}{endpoint.pk}/deliveries/{delivery.pk}/resend/")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "delivery_not_resendable"


def test_the_openapi_document_describes_the_webhook_and_event_endpoints(anonymous_api):
    paths = anonymous_api.get("/api/v1/schema/", {"format": "json"}).json()["paths"]
    assert {"post", "get"} <= set(paths["/api/v1/webhook-endpoints/"])
    assert "delete" in paths["/api/v1/webhook-endpoints/{endpoint_id}/"]
    assert "get" in paths["/api/v1/webhook-endpoints/{endpoint_id}/deliveries/"]
    resend = "/api/v1/webhook-endpoints/{endpoint_id}/deliveries/{delivery_id}/resend/"
    assert "409" in paths[resend]["post"]["responses"]
    events = paths["/api/v1/events/"]["get"]
    assert {p["name"] for p in events["parameters"]} >= {"after", "limit"}
