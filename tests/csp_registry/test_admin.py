"""Staff review applications and manage keys in the admin, through the services."""

import re

import pytest
from django.contrib.auth.models import User
from django.contrib.messages import get_messages

from csp_registry.keys import hash_key
from csp_registry.models import ApiKey, Csp, CspStatus
from outbox.models import OutboundEmail
from tests.personas import key_secret, make_csp

CHANGELIST = "/admin/csp_registry/csp/"


@pytest.fixture
def staff_client(client, db):
    user = User.objects.create_superuser("committee", "committee@example.com", "pw")
    client.force_login(user)
    client.user = user
    return client


def _action(client, action, csps, **extra):
    data = {"action": action, "_selected_action": [csp.pk for csp in csps], **extra}
    return client.post(CHANGELIST, data)


def test_approve_asks_first_then_approves_records_the_user_and_emails(staff_client):
    csp = make_csp(status=CspStatus.PENDING_REVIEW)
    confirm = _action(staff_client, "approve", [csp])
    assert confirm.status_code == 200 and b'name="reason"' in confirm.content
    assert Csp.objects.get().status == CspStatus.PENDING_REVIEW
    _action(staff_client, "approve", [csp], apply="1", reason="")
    assert Csp.objects.get().status == CspStatus.ACTIVE
    assert csp.status_changes.get().changed_by == staff_client.user
    assert OutboundEmail.objects.filter(kind="csp_application_approved").exists()


def test_reject_requires_a_reason(staff_client):
    csp = make_csp(status=CspStatus.PENDING_REVIEW)
    response = _action(staff_client, "reject", [csp], apply="1", reason="")
    assert response.status_code == 200 and Csp.objects.get().status == CspStatus.PENDING_REVIEW
    _action(staff_client, "reject", [csp], apply="1", reason="Not a registered company")
    assert Csp.objects.get().status == CspStatus.REVOKED
    assert csp.status_changes.get().reason == "Not a registered company"


def test_an_invalid_transition_is_reported_not_applied(staff_client):
    csp = make_csp(status=CspStatus.REVOKED)
    response = _action(staff_client, "reinstate", [csp], apply="1", reason="oops")
    messages = [str(m) for m in get_messages(response.wsgi_request)]
    assert any("revocation is final" in m for m in messages)
    assert Csp.objects.get().status == CspStatus.REVOKED


def test_suspend_from_the_admin_locks_the_api_at_once(staff_client, csp_api):
    assert csp_api.get("/api/v1/reps/").status_code == 200
    _action(staff_client, "suspend", [csp_api.csp], apply="1", reason="Spam reports")
    assert csp_api.get("/api/v1/reps/").status_code == 403


def _keys_in(page, api_key):
    return re.findall(rf"smt_{api_key.prefix}_[A-Za-z0-9_-]+", page)


def test_creating_a_key_shows_it_once_and_never_the_hash(staff_client, active_csp):
    response = staff_client.post(
        "/admin/csp_registry/apikey/add/", {"csp": active_csp.pk, "name": "prod"}, follow=True
    )
    api_key = ApiKey.objects.get()
    page = response.content.decode()
    shown = _keys_in(page, api_key)
    assert len(shown) == 1, "the new key is shown once"
    assert hash_key(shown[0]) == api_key.hashed_key
    assert api_key.hashed_key not in page
    assert api_key.created_by == staff_client.user
    later = staff_client.get(f"/admin/csp_registry/apikey/{api_key.pk}/change/").content.decode()
    assert api_key.hashed_key not in later and shown[0] not in later
    csp_page = staff_client.get(f"/admin/csp_registry/csp/{active_csp.pk}/change/").content.decode()
    assert api_key.hashed_key not in csp_page and api_key.prefix in csp_page


def test_a_new_key_is_on_the_page_answering_the_post_and_never_in_a_cookie(staff_client,
                                                                          active_csp):  # fmt: skip
    response = staff_client.post(
        "/admin/csp_registry/apikey/add/", {"csp": active_csp.pk, "name": "prod", "_save": "Save"}
    )
    api_key = ApiKey.objects.get()
    [full_key] = _keys_in(response.content.decode(), api_key)
    assert response.status_code == 200, "no redirect: the key is in this answer only"
    assert "no-store" in response["Cache-Control"]
    secret = key_secret(full_key)
    for cookie in response.cookies.values():
        assert secret not in cookie.value, cookie.key
    # The messages cookie is signed, not encrypted (and may be compressed): no message at all.
    assert not response.cookies.get("messages", None) or not response.cookies["messages"].value
    assert not [str(m) for m in get_messages(response.wsgi_request)]
    next_page = staff_client.get("/admin/csp_registry/apikey/").content.decode()
    assert secret not in next_page and secret not in str(staff_client.cookies)


def test_the_status_history_and_request_log_pages_render(staff_client, csp_api):
    csp_api.get("/api/v1/reps/")
    assert staff_client.get(f"/admin/csp_registry/csp/{csp_api.csp.pk}/change/").status_code == 200
    assert staff_client.get("/admin/csp_registry/apirequestlog/").status_code == 200


def test_no_admin_page_shows_an_existing_key_or_its_hash(staff_client, csp_api):
    api_key = ApiKey.objects.get(csp=csp_api.csp)
    secret = key_secret(csp_api.key)
    pages = [
        "/admin/csp_registry/apikey/",
        f"/admin/csp_registry/apikey/{api_key.pk}/change/",
        f"/admin/csp_registry/csp/{csp_api.csp.pk}/change/",
        "/admin/csp_registry/csp/",
    ]
    for url in pages:
        response = staff_client.get(url)
        assert response.status_code == 200, url
        page = response.content.decode()
        assert secret not in page and api_key.hashed_key not in page, url
