"""Who may do what in the admin: every role × every action, button, export and
state-changing page.

The tables below are checked against the admin site itself (``admin.site._registry``):
an action, a custom admin URL or a model added without a line here, or an
action that declares no permission, fails this file.
"""

import io
from datetime import date, datetime, timedelta

import pytest
import time_machine
from django.apps import apps
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.test import Client, RequestFactory
from django.urls import NoReverseMatch, reverse

from affirmations.models import Agreement, Holiday, Record, RecordCheckpoint
from csp_registry.events import EventDraft, events_emit
from csp_registry.models import ApiKey, Csp, CspStatus
from monitoring.models import CommissionDirective, MonitoringSettings, RedFlag
from monitoring.seed import AUDITOR, COMMITTEE, LIAISON, seed_reference_data
from monitoring.services import report_submit
from outbox.models import EmailStatus, OutboundEmail
from outbox.services import email_queue
from premises.models import TermPolicy
from smt_portal.calendar import CENTRAL
from tests.factories import make_premise
from tests.monitoring.conftest import make_agreement, staff_in
from tests.personas import issue_key, make_csp
from webhooks.models import DeliveryStatus, WebhookDelivery
from webhooks.services import endpoint_create

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=CENTRAL)
NO_ROLE, SUPERUSER = "staff in no role", "superuser"
ROLES = (COMMITTEE, LIAISON, AUDITOR, NO_ROLE)
EVERYONE = (*ROLES, SUPERUSER)

# Every action of every admin (Django's "delete selected" apart, refused to every
# role below), and the roles that may run it. A superuser may run them all.
ACTIONS = {
    "csp_registry.csp": {
        "approve": {COMMITTEE},
        "reject": {COMMITTEE},
        "suspend": {COMMITTEE},
        "reinstate": {COMMITTEE},
        "revoke": {COMMITTEE},
    },
    "csp_registry.apikey": {"revoke_keys": {COMMITTEE}},
    "affirmations.agreement": {
        "export_records_csv": {COMMITTEE, AUDITOR},
        "export_records_json": {COMMITTEE, AUDITOR},
        "revoke_agreements": {COMMITTEE},
    },
    "affirmations.holiday": {"remove_holidays": {COMMITTEE}},
    "affirmations.record": {
        "export_selected_csv": {COMMITTEE, AUDITOR},
        "export_selected_json": {COMMITTEE, AUDITOR},
    },
    "monitoring.redflag": {
        "dismiss": {COMMITTEE},
        "escalate": {COMMITTEE},
        "uphold": {COMMITTEE},
        "suspend_csp": {COMMITTEE},
        "revoke_csp": {COMMITTEE},
    },
    "monitoring.commissiondirective": {"carry_out": {LIAISON}},
    "outbox.outboundemail": {"retry_now": set()},
    "webhooks.webhookdelivery": {"resend": {COMMITTEE}},
}
# Staff sign in through allauth: its email addresses are superusers' business.
ALLAUTH = apps.is_installed("allauth.account")
if ALLAUTH:
    ACTIONS["account.emailaddress"] = {"make_verified": set()}

# Django's add, change and delete pages that some role may use; every other
# (model, page) is refused to every role.
EDITS = {
    ("csp_registry.apikey", "add"): {COMMITTEE},  # issuing a key
    ("affirmations.holiday", "add"): {COMMITTEE},
    ("monitoring.detectorsetting", "change"): {COMMITTEE},
    ("monitoring.monitoringsettings", "change"): {COMMITTEE},
    ("monitoring.commissiondirective", "add"): {LIAISON},
    ("monitoring.commissiondirective", "change"): {LIAISON},
}

# Admin URLs beyond Django's five per model, and who may open them.
CUSTOM_URLS = {
    "affirmations_record_export": {COMMITTEE, AUDITOR, SUPERUSER},
    "affirmations_recordcheckpoint_seal": {COMMITTEE, SUPERUSER},
    "auth_user_password_change": {SUPERUSER},
}

_STANDARD_PAGES = ("changelist", "add", "history", "delete", "change")


def _label(model):
    return model._meta.label_lower


def _admins():
    return sorted(admin.site._registry.items(), key=lambda item: _label(item[0]))


def _base_actions(model_admin):
    # What get_actions() filters by permission: the site's actions and the admin's own.
    return {name: func for func, name, _ in model_admin._get_base_actions()}


def _custom_urls(model, model_admin):
    info = model._meta.app_label, model._meta.model_name
    standard = {f"{info[0]}_{info[1]}_{page}" for page in _STANDARD_PAGES}
    return {p.name: p for p in model_admin.get_urls() if p.name and p.name not in standard}


@pytest.fixture
def people():
    seed_reference_data(io.StringIO())
    users = get_user_model().objects
    return {
        COMMITTEE: staff_in(COMMITTEE, "carla-committee"),
        LIAISON: staff_in(LIAISON, "lou-liaison"),
        AUDITOR: staff_in(AUDITOR, "aud-auditor"),
        NO_ROLE: users.create(username="sam-staff", is_staff=True),
        SUPERUSER: users.create(username="root", is_staff=True, is_superuser=True),
    }


def _request(user):
    request = RequestFactory().get("/admin/")
    request.user = user
    return request


def _client(user):
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def world():
    """One thing for each action to act on, on a frozen clock."""
    with time_machine.travel(NOW, tick=False):
        active = make_csp(legal_name="Bright Advice LLC", contact_email="ops@bright.example")
        issue_key(active, name="prod")
        agreement = make_agreement(active, premises=[make_premise()])
        target = {
            "pending": make_csp(legal_name="New Meters Co", status=CspStatus.PENDING_REVIEW),
            "active": active,
            "suspended": make_csp(legal_name="Paused Solar LLC", status=CspStatus.SUSPENDED),
            "key": ApiKey.objects.get(csp=active),
            "agreement": agreement,
            "record": Record.objects.filter(agreement=agreement).first(),
            "flag": report_submit(
                csp=active, category="altering", description="changed", now=NOW
            ).flag,
            "directive": CommissionDirective.objects.create(
                csp=active,
                reference="Docket 1",
                action="suspend",
                relaying_tdu="oncor",
                received_on=date(2026, 11, 2),
                notice_given_on=date(2026, 11, 3),
                procedure_concluded_on=date(2026, 11, 20),
            ),
            "email": _failed_email(),
            "holiday": Holiday.objects.create(
                day=date(2026, 11, 26), name="Thanksgiving Day", created_at=NOW
            ),
            "delivery": _failed_delivery(active),
        }
        if ALLAUTH:
            target["address"] = _unverified_address()
        yield target


def _failed_delivery(csp):
    endpoint, _secret = endpoint_create(
        csp=csp, url="https://hooks.bright.example/smt", event_types=["csp.suspended"], now=NOW
    )
    [event] = events_emit(drafts=[EventDraft(csp.pk, "csp.suspended", {"csp": {}})], now=NOW)
    delivery = WebhookDelivery.objects.get(endpoint=endpoint, event=event)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status=DeliveryStatus.FAILED)
    return delivery


def _unverified_address():
    EmailAddress = apps.get_model("account", "EmailAddress")
    user = get_user_model().objects.create(username="someone")
    return EmailAddress.objects.create(
        user=user, email="someone@example.com", verified=False, primary=True
    )


def _failed_email():
    email = email_queue(
        kind="test_message",
        to="bad@example.com",
        language="en",
        context={"name": "Ana", "company": "Bright Data Co"},
        now=NOW,
    )
    OutboundEmail.objects.filter(pk=email.pk).update(status=EmailStatus.FAILED, attempts=8)
    return email


# The row each action is tried on.
SUBJECT = {
    "approve": "pending",
    "reject": "pending",
    "suspend": "active",
    "reinstate": "suspended",
    "revoke": "active",
    "revoke_keys": "key",
    "export_records_csv": "agreement",
    "export_records_json": "agreement",
    "revoke_agreements": "agreement",
    "export_selected_csv": "record",
    "export_selected_json": "record",
    "dismiss": "flag",
    "escalate": "flag",
    "uphold": "flag",
    "suspend_csp": "flag",
    "revoke_csp": "flag",
    "carry_out": "directive",
    "remove_holidays": "holiday",
    "retry_now": "email",
    "resend": "delivery",
}
if ALLAUTH:
    SUBJECT["make_verified"] = "address"


def _state():
    """Everything an action could change, emails queued included."""
    return (
        list(Csp.objects.order_by("pk").values_list("pk", "status")),
        list(ApiKey.objects.order_by("pk").values_list("pk", "revoked_at")),
        list(Agreement.objects.order_by("pk").values_list("pk", "status")),
        list(RedFlag.objects.order_by("pk").values_list("pk", "status")),
        list(CommissionDirective.objects.order_by("pk").values_list("pk", "carried_out_at")),
        list(OutboundEmail.objects.order_by("pk").values_list("pk", "status")),
        list(WebhookDelivery.objects.order_by("pk").values_list("pk", "status")),
        list(Holiday.objects.order_by("pk").values_list("pk", "day")),
        _addresses(),
        Record.objects.count(),
    )


def _addresses():
    if not ALLAUTH:
        return []
    addresses = apps.get_model("account", "EmailAddress").objects.order_by("pk")
    return list(addresses.values_list("pk", "verified"))


def _is_download(response):
    return "attachment" in response.get("Content-Disposition", "")


# --- The tables cover the whole admin --------------------------------------------------------


def test_every_action_of_every_admin_declares_the_permission_it_needs():
    for model, model_admin in _admins():
        for name, func in _base_actions(model_admin).items():
            where = f"{_label(model)}: {name}"
            assert getattr(func, "allowed_permissions", None), f"{where} declares no permission"
            for permission in func.allowed_permissions:
                assert callable(getattr(model_admin, f"has_{permission}_permission", None)), where


def test_the_table_lists_every_action_of_every_admin():
    found = {
        (_label(model), name)
        for model, model_admin in _admins()
        for name in _base_actions(model_admin)
        if name != "delete_selected"
    }
    assert found == {(label, name) for label, names in ACTIONS.items() for name in names}
    assert set(SUBJECT) == {name for names in ACTIONS.values() for name in names}


def test_the_table_lists_every_custom_admin_url():
    found = set()
    for model, model_admin in _admins():
        found |= set(_custom_urls(model, model_admin))
    assert found == set(CUSTOM_URLS)


# --- Actions --------------------------------------------------------------------------------


@pytest.mark.parametrize("role", EVERYONE)
def test_each_role_is_offered_exactly_its_actions(people, role):
    request = _request(people[role])
    for model, model_admin in _admins():
        offered = set(model_admin.get_actions(request)) - {"delete_selected"}
        names = ACTIONS.get(_label(model), {})
        expected = set(names) if role == SUPERUSER else {n for n in names if role in names[n]}
        can_view = model_admin.has_view_or_change_permission(request)
        assert offered == (expected if can_view else set()), _label(model)


@pytest.mark.parametrize("role", ROLES)
def test_no_role_may_delete_anything(people, role):
    request = _request(people[role])
    for model, model_admin in _admins():
        assert "delete_selected" not in model_admin.get_actions(request), _label(model)
        assert not model_admin.has_delete_permission(request), _label(model)


@pytest.mark.parametrize("role", EVERYONE)
@pytest.mark.parametrize(
    "label, action",
    [(label, action) for label, names in ACTIONS.items() for action in names],
)
def test_an_action_runs_for_the_roles_allowed_and_changes_nothing_for_the_others(
    people, world, role, label, action
):
    allowed = role == SUPERUSER or role in ACTIONS[label][action]
    subject = world[SUBJECT[action]]
    changelist = reverse(f"admin:{label.replace('.', '_')}_changelist")
    before = _state()
    with time_machine.travel(NOW + timedelta(minutes=5), tick=False):
        response = _client(people[role]).post(changelist, {
            "action": action, "_selected_action": [subject.pk],
            "apply": "1", "reason": "Tried by every role",
        })  # fmt: skip
    acted = _is_download(response) or _state() != before
    assert acted == allowed, f"{role}: {label} {action}"
    if not allowed:
        assert _state() == before, "nothing changed and no email was queued"


# --- Custom pages and buttons ------------------------------------------------------------------


@pytest.mark.parametrize("role", EVERYONE)
def test_each_custom_admin_url_opens_only_for_the_roles_allowed(people, role):
    client = _client(people[role])
    for model, model_admin in _admins():
        for name, pattern in _custom_urls(model, model_admin).items():
            args = [people[role].pk] if pattern.pattern.converters else []
            response = client.get(reverse(f"admin:{name}", args=args))
            expected = 200 if role in CUSTOM_URLS[name] else 403
            assert response.status_code == expected, name


@pytest.mark.parametrize("role", EVERYONE)
def test_the_record_export_downloads_only_for_the_roles_allowed(people, world, role):
    response = _client(people[role]).get(
        reverse("admin:affirmations_record_export"),
        {"agreement": world["agreement"].pk, "format": "csv"},
    )
    allowed = role in CUSTOM_URLS["affirmations_record_export"]
    assert _is_download(response) == allowed
    assert response.status_code == (200 if allowed else 403)


@pytest.mark.parametrize("role", EVERYONE)
def test_the_export_button_shows_only_for_the_roles_allowed(people, role):
    response = _client(people[role]).get(reverse("admin:affirmations_record_changelist"))
    export = reverse("admin:affirmations_record_export")
    if role == NO_ROLE:
        assert response.status_code == 403
    else:
        shown = export in response.content.decode()
        assert shown == (role in CUSTOM_URLS["affirmations_record_export"]), role


@pytest.mark.parametrize("role", EVERYONE)
def test_only_the_roles_allowed_seal_a_record_checkpoint_and_see_its_button(people, world, role):
    allowed = role in CUSTOM_URLS["affirmations_recordcheckpoint_seal"]
    client = _client(people[role])
    listing = client.get(reverse("admin:affirmations_recordcheckpoint_changelist"))
    seal = reverse("admin:affirmations_recordcheckpoint_seal")
    if listing.status_code == 200:
        assert (seal in listing.content.decode()) == allowed
    with time_machine.travel(NOW + timedelta(minutes=5), tick=False):
        response = client.post(seal)
    assert response.status_code == (302 if allowed else 403)
    assert RecordCheckpoint.objects.exists() == allowed


@pytest.mark.parametrize("role", EVERYONE)
def test_only_the_committee_issues_api_keys(people, world, role):
    allowed = role in (COMMITTEE, SUPERUSER)
    response = _client(people[role]).post(
        reverse("admin:csp_registry_apikey_add"), {"csp": world["active"].pk, "name": "new"}
    )
    assert response.status_code == (200 if allowed else 403)
    assert ApiKey.objects.filter(name="new").exists() == allowed


@pytest.mark.parametrize("role", EVERYONE)
def test_the_dashboard_opens_for_every_role_and_no_one_else(people, role):
    response = _client(people[role]).get(reverse("admin:monitoring_dashboard_changelist"))
    assert response.status_code == (403 if role == NO_ROLE else 200)


# --- Django's own pages ------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_each_role_may_add_change_and_delete_exactly_what_the_table_says(people, world, role):
    request = _request(people[role])
    for model, model_admin in _admins():
        label = _label(model)
        checks = {
            "add": model_admin.has_add_permission(request),
            "change": model_admin.has_change_permission(request),
            "delete": model_admin.has_delete_permission(request),
        }
        for page, allowed in checks.items():
            assert allowed == (role in EDITS.get((label, page), set())), f"{label} {page}"


@pytest.mark.parametrize("role", ROLES)
def test_with_no_settings_row_yet_only_a_superuser_may_add_one(people, role):
    MonitoringSettings.objects.all().delete()
    TermPolicy.objects.all().delete()
    client = _client(people[role])
    assert client.get(reverse("admin:monitoring_monitoringsettings_add")).status_code == 403
    assert client.get(reverse("admin:premises_termpolicy_add")).status_code == 403
    superuser = _client(people[SUPERUSER])
    assert superuser.get(reverse("admin:premises_termpolicy_add")).status_code == 200


def test_staff_with_no_role_see_nothing(people, world):
    client = _client(people[NO_ROLE])
    index = client.get(reverse("admin:index"))
    assert index.status_code == 200 and index.context["app_list"] == []
    for model, _ in _admins():
        info = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        assert client.get(reverse(f"{info}_changelist")).status_code == 403, info
        row = model._default_manager.first()
        try:
            page = reverse(f"{info}_change", args=[row.pk]) if row else None
        except NoReverseMatch:
            page = None  # the dashboard has no object pages
        if page:
            assert client.get(page).status_code == 403, page


@pytest.mark.parametrize("role, sees", [(COMMITTEE, True), (AUDITOR, True), (LIAISON, False),
                                        (NO_ROLE, False), (SUPERUSER, True)])  # fmt: skip
def test_only_the_committee_and_auditors_see_customers_email_addresses(people, world, role, sees):
    agreement = world["agreement"]
    client = _client(people[role])
    page = client.get(reverse("admin:affirmations_agreement_change", args=[agreement.pk]))
    assert page.status_code == (200 if sees else 403)
    assert (agreement.customer_email in page.content.decode()) == sees
