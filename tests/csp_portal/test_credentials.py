"""/csp/keys/ and /csp/webhooks/: a CSP's admins issue and revoke keys and register
and delete webhook endpoints; the secret is on one page, once, and nowhere else."""

import re

import pytest
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from csp_portal.models import CspMember, CspPortalEvent
from csp_registry.models import ApiKey, CspEvent, EventType
from csp_registry.services import api_key_authenticate, csp_issue_key
from tests.personas import api_client_for
from webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db

HOOK = "https://hooks.bright-advice.example/h"
AFFIRMED = ["agreement.affirmed"]


def sent(client, url, data):
    """POST the creation form as a browser does: with the one-time value its page holds."""
    page = client.get(url).content.decode()
    once = re.search(r'name="once" value="([^"]+)"', page).group(1)
    return client.post(url, {**data, "once": once})


def _member_client(csp, role, name=None):
    user = get_user_model().objects.create_user(
        username=name or f"{role}-{csp.pk}", email=f"{role}@{csp.pk}.example", password="x" * 12
    )
    CspMember.objects.create(csp=csp, user=user, role=role, created_at=timezone.now())
    TOTP.activate(user, generate_totp_secret())  # the portal requires a second factor
    client = Client()
    client.force_login(user)
    client.user = user
    return client


@pytest.fixture
def admin(active_csp):
    return _member_client(active_csp, "admin")


def _shown_key(response):
    match = re.search(r'value="(smt_(?:test_)?[a-z0-9]{8}_[^"]+)"', response.content.decode())
    assert match, response.content.decode()
    return match.group(1)


def _assert_secret_nowhere_else(client, response, secret):
    assert response["Cache-Control"] == "no-store"
    assert "Location" not in response
    assert all(secret not in morsel.value for morsel in response.cookies.values())
    assert all(secret not in morsel.value for morsel in client.cookies.values())
    session = client.session
    assert all(secret not in str(value) for value in session.values())


# --- Keys ------------------------------------------------------------------------------


def test_an_admin_creates_a_key_shown_once_on_a_no_store_page_that_then_works(admin, active_csp):
    response = sent(admin, "/csp/keys/new/", {"name": "billing server"})

    assert response.status_code == 201
    full_key = _shown_key(response)
    _assert_secret_nowhere_else(admin, response, full_key)
    api_key = ApiKey.objects.get(csp=active_csp)
    assert api_key.name == "billing server"
    assert api_key.created_by == admin.user
    assert api_key_authenticate(full_key=full_key, now=timezone.now()) == api_key
    # Listed by prefix; the secret never again.
    listing = admin.get("/csp/keys/")
    assert f"smt_{api_key.prefix}…" in listing.content.decode()
    assert full_key not in listing.content.decode()
    event = CspPortalEvent.objects.get(kind="api_key_created")
    assert event.details == {"prefix": api_key.prefix, "name": "billing server", "sandbox": False}
    assert full_key not in str(event.details)


def test_an_admin_creates_a_sandbox_key_listed_as_such(admin, active_csp):
    response = sent(admin, "/csp/keys/new/", {"name": "trying out", "sandbox": "on"})

    assert response.status_code == 201
    full_key = _shown_key(response)
    api_key = ApiKey.objects.get(csp=active_csp)
    assert full_key.startswith(f"smt_test_{api_key.prefix}_") and api_key.sandbox
    assert f"smt_test_{api_key.prefix}…" in admin.get("/csp/keys/").content.decode()
    assert CspPortalEvent.objects.get(kind="api_key_created").details["sandbox"] is True


def test_a_key_may_expire_on_a_chosen_day_but_not_in_the_past(admin, active_csp):
    refused = sent(admin, "/csp/keys/new/", {"name": "old", "expires_on": "2001-01-01"})
    assert refused.status_code == 200
    assert "Choose a day after today." in refused.content.decode()
    assert not ApiKey.objects.exists()

    later = (timezone.now() + timezone.timedelta(days=30)).date()
    response = sent(admin, "/csp/keys/new/", {"name": "trial", "expires_on": later.isoformat()})
    assert response.status_code == 201
    assert ApiKey.objects.get().expires_at.date() == later


def test_the_key_list_shows_created_last_used_expiry_and_revoked(admin, active_csp, other_csp):
    now = timezone.now()
    used, full_key = csp_issue_key(csp=active_csp, now=now, name="used one")
    api_key_authenticate(full_key=full_key, now=now)
    revoked, _ = csp_issue_key(csp=active_csp, now=now, name="gone")
    revoked.revoked_at = now
    revoked.save()
    theirs, _ = csp_issue_key(csp=other_csp, now=now, name="not yours")

    page = admin.get("/csp/keys/").content.decode()

    assert "used one" in page and "gone" in page and "revoked" in page
    assert "not yours" not in page and theirs.prefix not in page
    assert "never" not in page.split(used.prefix)[1].split("</tr>")[0]


def test_revoking_asks_first_then_the_key_stops_working(admin, active_csp):
    api_key, full_key = csp_issue_key(csp=active_csp, now=timezone.now(), name="old")

    confirm = admin.get(f"/csp/keys/{api_key.pk}/revoke/")
    assert confirm.status_code == 200
    assert "Revoke the key" in confirm.content.decode()
    api_key.refresh_from_db()
    assert api_key.revoked_at is None

    response = admin.post(f"/csp/keys/{api_key.pk}/revoke/")
    assert response.status_code == 302
    assert api_key_authenticate(full_key=full_key, now=timezone.now()) is None
    assert CspPortalEvent.objects.get(kind="api_key_revoked").details == {"prefix": api_key.prefix}
    assert api_client_for(active_csp, full_key).get("/api/v1/agreements/").status_code == 401


def test_an_admin_cannot_revoke_another_providers_key(admin, other_csp):
    api_key, _ = csp_issue_key(csp=other_csp, now=timezone.now())
    assert admin.post(f"/csp/keys/{api_key.pk}/revoke/").status_code == 404
    api_key.refresh_from_db()
    assert api_key.revoked_at is None


@pytest.mark.parametrize("role", ["agent", "viewer"])
def test_agents_and_viewers_cannot_see_or_manage_keys_or_webhooks(active_csp, role):
    client = _member_client(active_csp, role)
    api_key, _ = csp_issue_key(csp=active_csp, now=timezone.now())
    for url in ["/csp/keys/", "/csp/keys/new/", "/csp/webhooks/", "/csp/webhooks/new/"]:
        assert client.get(url).status_code == 403, url
    assert client.post("/csp/keys/new/", {"name": "x"}).status_code == 403
    assert client.post(f"/csp/keys/{api_key.pk}/revoke/").status_code == 403
    assert ApiKey.objects.count() == 1
    assert ApiKey.objects.get().revoked_at is None


def test_a_signed_out_visitor_is_sent_to_sign_in(db):
    response = Client().get("/csp/keys/")
    assert response.status_code == 302
    assert response["Location"].startswith("/account/login/")


def test_a_suspended_providers_admin_manages_no_key_until_reinstated(suspended_csp):
    client = _member_client(suspended_csp, "admin")
    assert client.get("/csp/keys/").status_code == 403
    assert client.post("/csp/keys/new/", {"name": "x"}).status_code == 403
    assert not ApiKey.objects.exists()


# --- Webhooks --------------------------------------------------------------------------


def test_an_admin_registers_an_endpoint_whose_secret_is_shown_once(admin, active_csp):
    response = sent(
        admin,
        "/csp/webhooks/new/",
        {"url": "https://hooks.bright-advice.example/hooks", "events": ["agreement.affirmed"]},
    )

    assert response.status_code == 201, response.content.decode()
    secret = re.search(r'value="(whsec_[^"]+)"', response.content.decode()).group(1)
    _assert_secret_nowhere_else(admin, response, secret)
    endpoint = WebhookEndpoint.objects.get(csp=active_csp)
    assert endpoint.event_types == ["agreement.affirmed"]
    listing = admin.get("/csp/webhooks/").content.decode()
    assert "https://hooks.bright-advice.example/hooks" in listing and secret not in listing
    assert CspPortalEvent.objects.filter(kind="webhook_created").exists()


def test_an_unsafe_endpoint_url_is_refused_in_words(admin):
    response = sent(
        admin, "/csp/webhooks/new/", {"url": "https://169.254.169.254/h", "events": AFFIRMED}
    )
    assert response.status_code == 200
    assert 'class="error"' in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_deleting_an_endpoint_asks_first_then_stops_it(admin, active_csp):
    from webhooks.services import endpoint_create

    endpoint, _ = endpoint_create(
        csp=active_csp, url=HOOK, event_types=AFFIRMED,
        now=timezone.now(),
    )  # fmt: skip
    assert admin.get(f"/csp/webhooks/{endpoint.pk}/delete/").status_code == 200
    assert admin.post(f"/csp/webhooks/{endpoint.pk}/delete/").status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.deleted_at is not None
    assert CspPortalEvent.objects.filter(kind="webhook_deleted").exists()


def test_an_endpoint_page_shows_its_recent_deliveries_with_their_status(
    admin, active_csp, other_csp
):
    from webhooks.services import endpoint_create

    now = timezone.now()
    endpoint, _ = endpoint_create(csp=active_csp, url=HOOK, event_types=AFFIRMED, now=now)
    event = CspEvent.objects.create(
        csp=active_csp, type=EventType.values[0], data={}, occurred_at=now
    )
    WebhookDelivery.objects.create(
        endpoint=endpoint, event=event, status=DeliveryStatus.FAILED, attempts=3,
        next_attempt_at=now, deliver_until=now, last_status_code=502, created_at=now,
    )  # fmt: skip

    page = admin.get(f"/csp/webhooks/{endpoint.pk}/").content.decode()
    assert "Failed" in page and "HTTP 502" in page

    theirs, _ = endpoint_create(csp=other_csp, url=HOOK + "x", event_types=AFFIRMED, now=now)
    assert admin.get(f"/csp/webhooks/{theirs.pk}/").status_code == 404


def test_sending_the_form_again_creates_no_second_key(admin, active_csp):
    page = admin.get("/csp/keys/new/").content.decode()
    once = re.search(r'name="once" value="([^"]+)"', page).group(1)
    first = admin.post("/csp/keys/new/", {"name": "billing server", "once": once})
    again = admin.post("/csp/keys/new/", {"name": "billing server", "once": once})  # a reload

    assert first.status_code == 201
    assert again.status_code == 302 and again["Location"] == "/csp/keys/"
    assert ApiKey.objects.filter(csp=active_csp).count() == 1
    assert "already sent" in admin.get("/csp/keys/").content.decode()
