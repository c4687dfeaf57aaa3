"""Status changes, applications and API keys, called directly."""

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import User

from csp_registry.keys import hash_key, split_key
from csp_registry.models import ApiKey, Csp, CspStatus, CspStatusChange, IdempotencyKey
from csp_registry.services import (
    CspTransitionError,
    api_key_authenticate,
    csp_apply,
    csp_approve,
    csp_change_status,
    csp_create_approved,
    csp_issue_key,
    csp_reinstate,
    csp_reject,
    csp_revoke,
    csp_revoke_key,
    csp_rotate_keys,
    csp_suspend,
    idempotency_keys_purge,
)
from outbox.models import OutboundEmail
from smt_portal.actors import Actor
from tests.personas import make_csp

NOW = datetime(2026, 3, 2, 16, 0, tzinfo=UTC)

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff():
    return User.objects.create_user("reviewer", is_staff=True)


APPLICATION = {
    "legal_name": "Sunny Side Solar LLC",
    "duns_number": "987654321",
    "contact_name": "Ana Ruiz",
    "contact_email": "ana@sunny-side.example",
    "contact_phone": "+1 512 555 0142",
    "notice_email": "legal@sunny-side.example",
    "mailing_address": "5 Oak St, Austin, TX 78702",
    "privacy_policy_url": "https://sunny-side.example/privacy",
    "scope_of_use": "We size solar panels from your past year of usage.",
    "scope_of_use_es": "Dimensionamos paneles solares con su consumo del último año.",
}


def test_an_application_is_pending_review_with_history_and_a_receipt():
    csp = csp_apply(fields=APPLICATION, now=NOW)
    assert csp.status == CspStatus.PENDING_REVIEW
    change = csp.status_changes.get()
    assert (change.from_status, change.to_status, change.actor) == (
        "",
        "pending_review",
        "registration form",
    )
    email = OutboundEmail.objects.get(kind="csp_application_received")
    assert email.to_address == "ana@sunny-side.example"
    # Nothing the applicant wrote: the form is anonymous (see test_register_page).
    assert "Sunny Side Solar LLC" not in email.body_text + email.body_html + email.subject
    assert f"CSP-{csp.pk:06d}" in email.body_text and f"CSP-{csp.pk:06d}" in email.body_html


def test_approval_records_who_and_emails_the_applicant(staff):
    csp = make_csp(status=CspStatus.PENDING_REVIEW)
    change = csp_approve(csp=csp, now=NOW, actor=Actor.staff(staff))
    csp.refresh_from_db()
    assert csp.status == CspStatus.ACTIVE and csp.status_changed_at == NOW
    assert (change.from_status, change.to_status, change.changed_by) == (
        "pending_review",
        "active",
        staff,
    )
    assert OutboundEmail.objects.filter(
        kind="csp_application_approved", to_address=csp.contact_email
    ).exists()


def test_rejection_revokes_the_application_and_tells_the_applicant_why(staff):
    csp = make_csp(status=CspStatus.PENDING_REVIEW)
    csp_reject(
        csp=csp, now=NOW, actor=Actor.staff(staff), reason="DUNS number does not match the company."
    )
    assert Csp.objects.get(pk=csp.pk).status == CspStatus.REVOKED
    email = OutboundEmail.objects.get(kind="csp_application_rejected")
    assert "DUNS number does not match" in email.body_text
    assert "DUNS number does not match" in email.body_html


def test_an_active_csp_cannot_be_rejected_or_approved_again(staff):
    csp = make_csp()
    with pytest.raises(CspTransitionError, match="active and cannot become revoked"):
        csp_reject(csp=csp, now=NOW, actor=Actor.staff(staff), reason="no")
    with pytest.raises(CspTransitionError):
        csp_approve(csp=csp, now=NOW, actor=Actor.staff(staff))
    assert not CspStatusChange.objects.exists()
    assert not OutboundEmail.objects.exists()


def test_suspend_and_reinstate_go_back_and_forth_with_reasons(staff):
    csp = make_csp()
    csp_suspend(csp=csp, now=NOW, actor=Actor.staff(staff), reason="Spam reports")
    csp_reinstate(csp=csp, now=NOW + timedelta(days=3), actor=Actor.staff(staff), reason="Cleared")
    history = list(csp.status_changes.order_by("changed_at").values_list("to_status", "reason"))
    assert history == [("suspended", "Spam reports"), ("active", "Cleared")]
    assert Csp.objects.get(pk=csp.pk).status == CspStatus.ACTIVE


def test_a_pending_csp_cannot_be_suspended_or_reinstated():
    csp = make_csp(status=CspStatus.PENDING_REVIEW)
    with pytest.raises(CspTransitionError, match="pending review and cannot become suspended"):
        csp_suspend(csp=csp, now=NOW, reason="x", actor=Actor.system("tests"))
    with pytest.raises(CspTransitionError):
        csp_reinstate(csp=csp, now=NOW, reason="x", actor=Actor.system("tests"))


@pytest.mark.parametrize("status", ["pending_review", "active", "suspended"])
def test_any_status_can_be_revoked(status):
    csp = make_csp(status=status)
    csp_revoke(csp=csp, now=NOW, reason="Directive of the Commission", actor=Actor.system("tests"))
    assert Csp.objects.get(pk=csp.pk).status == CspStatus.REVOKED


@pytest.mark.parametrize("target", ["pending_review", "active", "suspended", "revoked"])
def test_revocation_is_final(target):
    csp = make_csp(status=CspStatus.REVOKED)
    with pytest.raises(CspTransitionError, match="revocation is final"):
        csp_change_status(csp=csp, to_status=target, now=NOW, actor=Actor.system("tests"))


def test_a_stale_object_cannot_skip_the_rules():
    csp = make_csp()
    stale = Csp.objects.get(pk=csp.pk)
    csp_revoke(csp=csp, now=NOW, reason="fraud", actor=Actor.system("tests"))
    # The copy still says active; the locked row says revoked.
    with pytest.raises(CspTransitionError, match="final"):
        csp_suspend(csp=stale, now=NOW, reason="late click", actor=Actor.system("tests"))
    assert Csp.objects.get(pk=csp.pk).status == CspStatus.REVOKED


def test_an_issued_key_is_stored_only_as_a_hash_with_its_prefix():
    csp = make_csp()
    api_key, full_key = csp_issue_key(csp=csp, now=NOW, name="prod")
    assert full_key.startswith(f"smt_{api_key.prefix}_") and len(full_key) >= 4 + 9 + 43
    assert split_key(full_key) == api_key.prefix
    stored = ApiKey.objects.get(pk=api_key.pk)
    assert stored.hashed_key == hash_key(full_key) and full_key not in str(stored.__dict__)
    assert full_key not in str(stored) and stored.prefix in str(stored)


def test_a_csp_may_hold_several_keys_and_each_authenticates():
    csp = make_csp()
    keys = [csp_issue_key(csp=csp, now=NOW)[1] for _ in range(3)]
    assert {api_key_authenticate(full_key=k, now=NOW).csp for k in keys} == {csp}


def test_a_wrong_secret_with_a_real_prefix_does_not_authenticate():
    api_key, full_key = csp_issue_key(csp=make_csp(), now=NOW)
    forged = f"smt_{api_key.prefix}_{'A' * 43}"
    assert api_key_authenticate(full_key=forged, now=NOW) is None
    assert api_key_authenticate(full_key=full_key + "x", now=NOW) is None


def test_revoked_and_expired_keys_do_not_authenticate():
    csp = make_csp()
    revoked, revoked_full = csp_issue_key(csp=csp, now=NOW)
    assert csp_revoke_key(api_key=revoked, now=NOW) is True
    assert csp_revoke_key(api_key=revoked, now=NOW) is False
    _, expiring_full = csp_issue_key(csp=csp, now=NOW, expires_at=NOW + timedelta(days=1))
    assert api_key_authenticate(full_key=revoked_full, now=NOW) is None
    assert api_key_authenticate(full_key=expiring_full, now=NOW) is not None
    assert api_key_authenticate(full_key=expiring_full, now=NOW + timedelta(days=1)) is None


def test_last_used_at_is_written_at_most_once_a_minute(django_assert_num_queries):
    api_key, full_key = csp_issue_key(csp=make_csp(), now=NOW)
    with django_assert_num_queries(2):  # the lookup, then the first use
        api_key_authenticate(full_key=full_key, now=NOW)
    with django_assert_num_queries(1):  # the lookup only
        api_key_authenticate(full_key=full_key, now=NOW + timedelta(seconds=59))
    assert ApiKey.objects.get(pk=api_key.pk).last_used_at == NOW
    api_key_authenticate(full_key=full_key, now=NOW + timedelta(seconds=61))
    assert ApiKey.objects.get(pk=api_key.pk).last_used_at == NOW + timedelta(seconds=61)


def test_rotation_revokes_every_old_key_and_issues_one_new():
    csp = make_csp()
    _, old = csp_issue_key(csp=csp, now=NOW)
    _, new = csp_rotate_keys(csp=csp, now=NOW)
    assert api_key_authenticate(full_key=old, now=NOW) is None
    assert api_key_authenticate(full_key=new, now=NOW) is not None


def test_create_approved_makes_an_active_csp_once_per_email():
    csp, created = csp_create_approved(name="Acme Energy", email="api@acme.example", now=NOW)
    assert created and csp.status == CspStatus.ACTIVE
    # Nothing invented: what the caller did not give stays blank for staff.
    assert (csp.privacy_policy_url, csp.duns_number, csp.scope_of_use) == ("", "", "")
    assert list(csp.status_changes.values_list("to_status", flat=True)) == ["active"]
    again, created_again = csp_create_approved(
        name="ACME ENERGY", email="API@acme.example", now=NOW
    )
    assert (again, created_again) == (csp, False)


def test_create_approved_stores_the_facts_it_is_given():
    facts = {
        "scope_of_use": "Plan advice.", "scope_of_use_es": "Consejos de planes.",
        "website_url": "https://acme.example/", "privacy_policy_url": "https://acme.example/p",
        "duns_number": "123456789",
    }  # fmt: skip
    csp, _ = csp_create_approved(name="Acme", email="api@acme.example", now=NOW, facts=facts)
    assert {name: getattr(csp, name) for name in facts} == facts
    assert csp.has_scope_of_use


def test_the_purge_forgets_only_expired_idempotency_keys():
    csp = make_csp()
    for key, expires_at in [
        ("old", NOW - timedelta(seconds=1)),
        ("fresh", NOW + timedelta(hours=1)),
    ]:
        IdempotencyKey.objects.create(
            csp=csp,
            key=key,
            request_hash="0" * 64,
            created_at=NOW - timedelta(hours=24),
            expires_at=expires_at,
        )
    assert idempotency_keys_purge(now=NOW) == 1
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["fresh"]


@pytest.mark.django_db
def test_revoking_a_csp_revokes_every_one_of_its_keys(active_csp):
    from csp_registry.models import ApiKey
    from csp_registry.services import csp_issue_key, csp_revoke

    now = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    csp_issue_key(csp=active_csp, now=now, name="first")
    csp_issue_key(csp=active_csp, now=now, name="second")
    csp_revoke(csp=active_csp, now=now, reason="fraud", actor=Actor.system("tests"))
    keys = ApiKey.objects.filter(csp=active_csp)
    assert keys.count() >= 2
    assert not keys.filter(revoked_at__isnull=True).exists()
