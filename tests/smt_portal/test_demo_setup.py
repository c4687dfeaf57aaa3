import stat

import pytest
from django.core.management import call_command
from django.utils import timezone

from csp_registry.models import Csp, CspStatus
from csp_registry.services import api_key_authenticate, csp_rotate_keys
from smt_portal.management.commands.demo_setup import (
    DEMO_CSP_EMAIL,
    DEMO_SCOPE_OF_USE,
    DEMO_SCOPE_OF_USE_ES,
)


def _keys(output):
    return [line for line in output.splitlines() if line.startswith("smt_")]


@pytest.mark.django_db
def test_demo_setup_twice_gives_one_active_demo_csp_and_the_same_working_key(capsys, tmp_path):
    key_file = tmp_path / "var" / "demo-api-key"
    call_command("demo_setup", key_file=str(key_file))
    first = capsys.readouterr().out
    call_command("demo_setup", key_file=str(key_file))
    second = capsys.readouterr().out

    csp = Csp.objects.get(contact_email=DEMO_CSP_EMAIL)
    assert csp.status == CspStatus.ACTIVE
    assert csp.scope_of_use == DEMO_SCOPE_OF_USE
    assert csp.scope_of_use_es == DEMO_SCOPE_OF_USE_ES and csp.has_scope_of_use
    # Realistic registration facts, no placeholders.
    assert csp.duns_number.isdigit() and len(set(csp.duns_number)) > 1
    assert csp.privacy_policy_url.startswith("https://") and csp.mailing_address
    assert "Staff login: admin / " in first
    assert "password printed when it was created" in second
    # The key printed by the first run still works after the second.
    (key,) = _keys(first)
    assert _keys(second) == [key]
    assert "same as last time" in second and "CHANGED" not in second
    assert api_key_authenticate(full_key=key, now=timezone.now()).csp == csp
    # Kept for the owner only (.ci/smoke reads the file); printed on the line after "API key".
    assert key_file.read_text().strip() == key
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert second.split("API key")[-1].splitlines()[1] == key


@pytest.mark.django_db
def test_demo_setup_says_loudly_that_the_key_changed_when_the_kept_one_no_longer_works(
    capsys, tmp_path
):
    key_file = tmp_path / "demo-api-key"
    call_command("demo_setup", key_file=str(key_file))
    (old_key,) = _keys(capsys.readouterr().out)
    csp = Csp.objects.get(contact_email=DEMO_CSP_EMAIL)
    csp_rotate_keys(csp=csp, now=timezone.now(), name="staff rotated it")

    call_command("demo_setup", key_file=str(key_file))
    output = capsys.readouterr().out

    (new_key,) = _keys(output)
    assert new_key != old_key
    assert "THE DEMO API KEY CHANGED" in output
    assert key_file.read_text().strip() == new_key
    assert api_key_authenticate(full_key=new_key, now=timezone.now()).csp == csp


@pytest.mark.django_db
def test_demo_setup_says_loudly_that_earlier_keys_were_revoked_when_no_key_was_kept(
    capsys, tmp_path
):
    call_command("demo_setup", key_file=str(tmp_path / "first"))
    capsys.readouterr()

    call_command("demo_setup", key_file=str(tmp_path / "elsewhere"))

    assert "THE DEMO API KEY CHANGED" in capsys.readouterr().out
