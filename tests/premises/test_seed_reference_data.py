from io import StringIO

import pytest
from django.core.management import call_command

from premises.management.commands.seed_reference_data import seeders
from premises.models import RetailElectricProvider, Tdu, TermPolicy

pytestmark = pytest.mark.django_db


def seed():
    out = StringIO()
    call_command("seed_reference_data", stdout=out)
    return out.getvalue()


def test_seeding_loads_the_tdus_the_providers_and_the_term_policy():
    output = seed()

    assert Tdu.objects.count() == 5
    centerpoint = Tdu.objects.get(code="CENTERPOINT")
    assert (centerpoint.prefixes, centerpoint.esi_id_length) == (["1008901"], 22)
    assert Tdu.objects.get(code="ONCOR").prefixes == ["1044372", "1017699"]
    assert RetailElectricProvider.objects.count() == 140
    assert RetailElectricProvider.objects.filter(certificate_number="10166X").exists()
    assert TermPolicy.objects.get(pk=1).standard_max_months == 12
    assert "TDUs: 5 created" in output
    assert "Retail electric providers: 140 created" in output


def test_seeding_again_changes_nothing():
    seed()
    output = seed()

    assert "TDUs: 0 created, 0 updated, 5 unchanged" in output
    assert "Retail electric providers: 0 created, 0 updated, 140 unchanged" in output
    assert Tdu.objects.count() == 5
    assert RetailElectricProvider.objects.count() == 140


def test_seeding_restores_a_changed_name_but_keeps_staff_changes_and_extra_providers():
    seed()
    RetailElectricProvider.objects.filter(certificate_number="10004").update(
        legal_name="TYPO", active=False
    )
    RetailElectricProvider.objects.create(certificate_number="99999", legal_name="Added by staff")
    TermPolicy.objects.filter(pk=1).update(standard_max_months=6)

    output = seed()

    txu = RetailElectricProvider.objects.get(certificate_number="10004")
    assert txu.legal_name == "TXU ENERGY RETAIL COMPANY LLC"
    assert txu.active is False
    assert RetailElectricProvider.objects.filter(certificate_number="99999").exists()
    assert TermPolicy.objects.get(pk=1).standard_max_months == 6
    assert "0 created, 1 updated, 139 unchanged" in output


def test_every_installed_app_with_a_seed_module_contributes_a_seeder():
    found = {app_config.label: seeder for app_config, seeder in seeders()}

    assert found["premises"].__module__ == "premises.seed"
    assert all(seeder.__module__.endswith(".seed") for seeder in found.values())
    assert "premises:" in seed()
