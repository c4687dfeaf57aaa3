"""Registered source ranges: one canonical CIDR form, stored by every path that
writes them; hostile values refused with a reason; old rows canonicalised."""

import importlib

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import connection, transaction

from csp_registry.models import MAX_IP_RANGES, Csp, canonical_ip_ranges
from tests.csp_registry.test_register_page import APPLICATION, solved_challenge
from tests.factories import make_csp


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        ("203.0.113.0/24", "203.0.113.0/24"),
        ("10.0.0.0/255.255.255.0", "10.0.0.0/24"),  # netmask form: one meaning, converted
        ("203.0.113.7", "203.0.113.7/32"),
        ("2001:DB8:0:0::/48", "2001:db8::/48"),
        ("10.0.0.0/08", "10.0.0.0/8"),
        (" 203.0.113.0/24 ,\t10.1.0.0/16\r\n\u00a0203.0.113.0/24 ", "10.1.0.0/16\n203.0.113.0/24"),
        ("2001:db8::/32\n192.0.2.0/24", "192.0.2.0/24\n2001:db8::/32"),
        ("", ""),
        ("  \n ", ""),
    ],
)
def test_ranges_are_stored_in_one_canonical_form(written, stored):
    assert canonical_ip_ranges(written) == stored


@pytest.mark.parametrize(
    ("written", "reason"),
    [
        ("10.0.0.0/0.0.0.255", "is not a netmask (a host mask?)"),
        ("10.0.0.0/255.0.255.0", "is not a netmask"),
        ("fe80::%eth0/64", "zone id"),
        ("fe80::1%25eth0", "zone id"),
        ("010.0.0.0/8", "is not an IP address or CIDR range"),
        ("::ffff:10.0.0.0/104", "write 10.0.0.0/8"),
        ("0.0.0.0/0", "is wider than /8"),
        ("::/0", "is wider than /32"),
        ("10.0.0.0/0.0.0.0", "is wider than /8"),
        ("10.0.0.1/24", "write 10.0.0.0/24 for the network or 10.0.0.1/32"),
        ("224.0.0.0/8", "not an address an API call can come from"),
        ("0.0.0.0", "not an address an API call can come from"),  # noqa: S104
        ("10.0.0.0/33", "is not an IP address or CIDR range"),
        ("10.0.0.0/", "is not an IP address or CIDR range"),
        ("10.0.0.0/ 8", "is not an IP address or CIDR range"),
        ("\uff11\uff10.0.0.0/8", "is not an IP address or CIDR range"),  # full-width digits
        ("10.0.0.0/8;DROP TABLE csp", "is not an IP address or CIDR range"),
        ("x" * 10_000, "…' is not an IP address or CIDR range"),
    ],
)
def test_hostile_ranges_are_refused_with_a_reason(written, reason):
    with pytest.raises(ValidationError) as refused:
        canonical_ip_ranges(written)
    assert reason in refused.value.messages[0]
    assert len(refused.value.messages[0]) < 200


def test_every_refused_range_is_named_at_once():
    with pytest.raises(ValidationError) as refused:
        canonical_ip_ranges("203.0.113.0/24\n0.0.0.0/0\nfe80::%eth0/64")
    assert len(refused.value.messages) == 2


def test_a_list_longer_than_the_limit_is_refused_whole():
    ranges = "\n".join(f"10.{i // 256}.{i % 256}.0/24" for i in range(MAX_IP_RANGES + 1))
    with pytest.raises(ValidationError, match=f"At most {MAX_IP_RANGES} ranges"):
        canonical_ip_ranges(ranges)
    assert canonical_ip_ranges(ranges.rsplit("\n", 1)[0]).count("\n") == MAX_IP_RANGES - 1


@pytest.mark.django_db
def test_saving_a_csp_stores_the_canonical_form():
    csp = make_csp(registered_ip_ranges="10.0.0.0/255.255.255.0, 2001:DB8::/32")
    csp.refresh_from_db()
    assert csp.registered_ip_ranges == "10.0.0.0/24\n2001:db8::/32"


@pytest.mark.django_db
def test_saving_a_csp_with_a_range_that_cannot_be_canonical_is_refused():
    with pytest.raises(ValidationError), transaction.atomic():
        make_csp(registered_ip_ranges="10.0.0.0/0.0.0.255")
    assert not Csp.objects.exists()


@pytest.mark.django_db
def test_the_registration_page_stores_the_canonical_form(client):
    response = client.post(
        "/csp/register/",
        {
            **APPLICATION,
            "registered_ip_ranges": "203.0.113.0/255.255.255.0",
            "altcha": solved_challenge(),
        },
    )
    assert response.status_code == 302
    assert Csp.objects.get().registered_ip_ranges == "203.0.113.0/24"


@pytest.mark.django_db
def test_the_registration_page_refuses_a_zone_id_with_the_reason(client):
    response = client.post("/csp/register/", {**APPLICATION, "registered_ip_ranges": "fe80::%eth0"})
    assert response.status_code == 200
    [error] = response.context["form"].errors["registered_ip_ranges"]
    assert "zone id" in error
    assert not Csp.objects.exists()


@pytest.mark.django_db
def test_the_admin_stores_the_canonical_form(admin_client):
    csp = make_csp()
    form = admin_client.get(f"/admin/csp_registry/csp/{csp.pk}/change/").context["adminform"].form
    data = {name: form[name].value() or "" for name in form.fields}
    data |= {"registered_ip_ranges": "2001:DB8::/32 192.0.2.0/255.255.255.0"}
    for prefix in ("api_keys", "status_changes"):
        data |= {f"{prefix}-TOTAL_FORMS": 0, f"{prefix}-INITIAL_FORMS": 0}
    response = admin_client.post(f"/admin/csp_registry/csp/{csp.pk}/change/", data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    csp.refresh_from_db()
    assert csp.registered_ip_ranges == "192.0.2.0/24\n2001:db8::/32"


@pytest.mark.django_db
def test_the_migration_canonicalises_old_rows_and_drops_what_nothing_can_read(capsys):
    migration = importlib.import_module("csp_registry.migrations.0004_canonical_ip_ranges")
    legacy = make_csp(legal_name="Legacy Ranges Inc")
    clean = make_csp(legal_name="Clean Ranges Inc", registered_ip_ranges="192.0.2.0/24")
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE csp_registry_csp SET registered_ip_ranges = %s WHERE id = %s",
            ["10.0.0.7/255.255.255.0, fe80::%eth0/64\nnot-a-range 10.0.0.0/24", legacy.pk],
        )
    migration.canonicalise_ranges(apps, None)
    legacy.refresh_from_db()
    # Host bits and zone ids kept the meaning the API gave them; duplicates merged.
    assert legacy.registered_ip_ranges == "10.0.0.0/24\nfe80::/64"
    assert "dropped unreadable IP ranges ['not-a-range']" in capsys.readouterr().out
    clean.refresh_from_db()
    assert clean.registered_ip_ranges == "192.0.2.0/24"
