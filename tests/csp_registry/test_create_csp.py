"""manage.py create_csp: an approved CSP and its key, printed once; idempotent."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from csp_registry.models import Csp, CspStatus
from csp_registry.services import api_key_authenticate

pytestmark = pytest.mark.django_db


def _run(*args):
    out = StringIO()
    call_command("create_csp", *args, stdout=out)
    return out.getvalue()


def _printed_key(output):
    return next(line for line in output.splitlines() if line.startswith("smt_"))


def test_it_creates_an_active_csp_and_prints_a_working_key(client):
    output = _run("--name", "Acme Energy", "--email", "api@acme.example")
    csp = Csp.objects.get()
    assert csp.status == CspStatus.ACTIVE and csp.legal_name == "Acme Energy"
    key = _printed_key(output)
    assert client.get("/api/v1/reps/", HTTP_AUTHORIZATION=f"Bearer {key}").status_code == 200


def test_running_it_again_reports_the_csp_and_issues_no_key():
    first = _printed_key(_run("--name", "Acme Energy", "--email", "api@acme.example"))
    output = _run("--name", "Acme Energy", "--email", "api@acme.example")
    assert "Exists" in output and "smt_" not in output
    assert Csp.objects.count() == 1
    assert api_key_authenticate(full_key=first, now=Csp.objects.get().created_at) is not None


def test_rotate_key_revokes_the_old_keys_and_prints_a_new_one():
    from django.utils import timezone

    old = _printed_key(_run("--name", "Acme Energy", "--email", "api@acme.example"))
    new = _printed_key(_run("--name", "Acme Energy", "--email", "api@acme.example", "--rotate-key"))
    assert new != old
    assert api_key_authenticate(full_key=old, now=timezone.now()) is None
    assert api_key_authenticate(full_key=new, now=timezone.now()) is not None


def test_a_bad_email_is_refused():
    with pytest.raises(CommandError, match="not an email"):
        _run("--name", "Acme", "--email", "nope")


def test_a_pending_application_with_that_email_is_neither_approved_nor_given_a_key(pending_csp):
    email = pending_csp.contact_email
    for extra in ((), ("--rotate-key",)):
        with pytest.raises(CommandError, match="pending_review"):
            _run("--name", pending_csp.legal_name, "--email", email, *extra)
    pending_csp.refresh_from_db()
    assert pending_csp.status == CspStatus.PENDING_REVIEW
    assert not pending_csp.api_keys.exists()


def test_a_suspended_or_revoked_csp_is_not_taken_over(suspended_csp, revoked_csp):
    for csp in (suspended_csp, revoked_csp):
        with pytest.raises(CommandError, match=csp.status):
            _run("--name", csp.legal_name, "--email", csp.contact_email, "--rotate-key")
        csp.refresh_from_db()
        assert not csp.api_keys.filter(revoked_at__isnull=True).exists()


def test_another_providers_email_under_a_new_name_is_refused(active_csp):
    with pytest.raises(CommandError, match="already has that email"):
        _run("--name", "Impostor LLC", "--email", active_csp.contact_email.upper(), "--rotate-key")
    assert Csp.objects.count() == 1


def test_it_invents_no_registration_facts_and_says_requests_wait_for_the_scope_of_use():
    output = _run("--name", "Acme Energy", "--email", "api@acme.example")
    csp = Csp.objects.get()
    assert (csp.duns_number, csp.website_url, csp.privacy_policy_url) == ("", "", "")
    assert (csp.scope_of_use, csp.scope_of_use_es, csp.mailing_address) == ("", "", "")
    assert "cannot start requests until staff add its scope of use" in output


def test_it_stores_the_facts_the_contract_names():
    output = _run(
        "--name", "Acme Energy", "--email", "api@acme.example",
        "--scope-of-use", "Plan advice.", "--scope-of-use-es", "Consejos de planes.",
        "--website", "https://acme.example/", "--privacy-url", "https://acme.example/privacy",
        "--duns", "12-345-6789",
    )  # fmt: skip
    csp = Csp.objects.get()
    assert (csp.scope_of_use, csp.scope_of_use_es) == ("Plan advice.", "Consejos de planes.")
    assert csp.website_url == "https://acme.example/"
    assert csp.privacy_policy_url == "https://acme.example/privacy"
    assert csp.duns_number == "123456789"
    assert "cannot start requests" not in output


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [("--duns", "12345", "nine digits"), ("--website", "acme", "https://"),
     ("--privacy-url", "http://acme.example/p", "https://")],
)  # fmt: skip
def test_bad_facts_are_refused_and_nothing_is_created(option, value, message):
    with pytest.raises(CommandError, match=message):
        _run("--name", "Acme", "--email", "api@acme.example", option, value)
    assert not Csp.objects.exists()
