"""GET /api/v1/events/?after=: the same events as the webhooks, oldest first, to catch up."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from csp_registry.events import event_payload

from .conftest import emit

pytestmark = pytest.mark.django_db

URL = "/api/v1/events/"


def test_the_feed_pages_through_this_providers_events_oldest_first(csp_api, clock):
    events = emit(csp_api.csp, count=7)
    first = csp_api.get(URL, {"limit": 3}).json()
    assert [e["id"] for e in first["events"]] == [e.public_id for e in events[:3]]
    assert first["next"] == events[2].public_id
    second = csp_api.get(URL, {"limit": 3, "after": first["next"]}).json()
    third = csp_api.get(URL, {"limit": 3, "after": second["next"]}).json()
    assert [e["id"] for e in third["events"]] == [events[6].public_id]
    assert third["next"] == events[6].public_id, "the last page still says where to poll from"
    assert csp_api.get(URL, {"after": third["next"]}).json() == {"events": [], "next": None}


def test_a_feed_event_is_the_webhooks_payload(csp_api, clock):
    [event] = emit(csp_api.csp)
    assert csp_api.get(URL).json()["events"] == [event_payload(event)]
    assert csp_api.get(URL).json()["events"][0]["data"]["agreement"]["customer_email_masked"]


def test_a_provider_that_was_down_catches_up_from_the_last_event_it_processed(csp_api, clock):
    seen = emit(csp_api.csp, count=2)
    missed = emit(csp_api.csp, count=150, agreement_id=1000)  # while it was down
    cursor, caught = seen[-1].public_id, []
    while cursor:
        page = csp_api.get(URL, {"after": cursor}).json()
        assert len(page["events"]) <= 100
        caught += [e["id"] for e in page["events"]]
        cursor = page["next"]
    assert caught == [e.public_id for e in missed]


def test_the_cursor_may_be_given_as_a_bare_number(csp_api, clock):
    events = emit(csp_api.csp, count=2)
    page = csp_api.get(URL, {"after": str(events[0].pk)}).json()
    assert [e["id"] for e in page["events"]] == [events[1].public_id]


def test_another_providers_events_are_not_in_the_feed(csp_api, other_csp, clock):
    emit(other_csp, count=3)
    mine = emit(csp_api.csp)
    assert [e["id"] for e in csp_api.get(URL).json()["events"]] == [mine[0].public_id]


@pytest.mark.parametrize("params", [{"after": "evt_x"}, {"after": "-1"}, {"limit": "101"},
                                    {"limit": "0"}])  # fmt: skip
def test_a_bad_cursor_or_limit_is_400_invalid(csp_api, params):
    response = csp_api.get(URL, params)
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == list(params)


def test_a_suspended_provider_may_read_its_feed(suspended_csp_api, clock):
    [event] = emit(suspended_csp_api.csp)
    response = suspended_csp_api.get(URL)
    assert response.status_code == 200
    assert response.json()["events"][0]["id"] == event.public_id


@pytest.mark.parametrize("persona", ["revoked_csp_api", "pending_csp_api"])
def test_a_revoked_or_pending_provider_may_not_read_a_feed(persona, request, clock):
    client = request.getfixturevalue(persona)
    emit(client.csp)
    response = client.get(URL)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "csp_not_active"


def test_without_a_key_the_feed_is_401(anonymous_api):
    assert anonymous_api.get(URL).status_code == 401


def test_a_page_costs_the_same_queries_for_one_event_or_a_hundred(csp_api, clock):
    emit(csp_api.csp)
    csp_api.get(URL)  # the key's first use is recorded once: not counted
    with CaptureQueriesContext(connection) as one:
        csp_api.get(URL)
    emit(csp_api.csp, count=120, agreement_id=10)
    with CaptureQueriesContext(connection) as many:
        assert len(csp_api.get(URL).json()["events"]) == 100
    assert len(many) == len(one)
