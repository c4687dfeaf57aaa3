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
