import pytest
from django.core.management import call_command

from csp_registry.models import Csp, CspStatus
from smt_portal.management.commands.demo_setup import (
    DEMO_CSP_EMAIL,
    DEMO_SCOPE_OF_USE,
    DEMO_SCOPE_OF_USE_ES,
)


@pytest.mark.django_db
def test_demo_setup_twice_gives_one_active_demo_csp_with_a_new_key_each_time(capsys):
    call_command("demo_setup")
    first = capsys.readouterr().out
    call_command("demo_setup")
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
    keys = [line for line in (first + second).splitlines() if line.startswith("smt_")]
    assert len(keys) == 2 and keys[0] != keys[1]
