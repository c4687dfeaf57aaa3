from collections import Counter
from datetime import date, datetime
from decimal import Decimal
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db.models import Avg, Count, Max

from premises.identifiers import normalize_esi_id, tdu_for_esi_id
from premises.models import Meter, MonthlyUsage, Premise, RetailElectricProvider, Tdu
from premises.seed import seed_reference_data
from premises.synthetic import premise_sample_triples, premises_generate

pytestmark = pytest.mark.django_db

# 15 March 2026, Central: the last complete month is February 2026.
NOW = datetime(2026, 3, 15, 10, tzinfo=ZoneInfo("America/Chicago"))


@pytest.fixture
def reference_data():
    seed_reference_data(stdout=StringIO())


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=False):
        yield


def generate(*args):
    out, err = StringIO(), StringIO()
    call_command("generate_premises", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def esi_ids():
    return list(Premise.objects.order_by("esi_id").values_list("esi_id", flat=True))


def test_generating_without_reference_data_asks_for_it():
    with pytest.raises(CommandError, match="seed_reference_data"):
        generate("--count", "5")


@pytest.mark.usefixtures("reference_data")
def test_each_premise_has_a_valid_esi_id_of_its_tdu_and_one_active_nine_digit_meter():
    generate("--count", "200")

    tdus = list(Tdu.objects.all())
    premises = list(Premise.objects.select_related("tdu"))
    assert len(premises) == 200
    for premise in premises:
        assert normalize_esi_id(premise.esi_id) == premise.esi_id
        assert tdu_for_esi_id(premise.esi_id, tdus) == premise.tdu
    meters = Meter.objects.all()
    assert meters.count() == 200
    assert {meter.premise_id for meter in meters if meter.removed_on is None} == {
        premise.pk for premise in premises
    }
    assert all(len(meter.number) == 9 and meter.number.isdigit() for meter in meters)
    assert all(date(2009, 6, 1) <= meter.installed_on <= date(2021, 12, 31) for meter in meters)


@pytest.mark.usefixtures("reference_data")
def test_each_premise_has_24_complete_months_ending_with_the_last_complete_month():
    output, _ = generate("--count", "50")

    per_premise = MonthlyUsage.objects.values("premise").annotate(n=Count("id"))
    assert {row["n"] for row in per_premise} == {24}
    assert per_premise.count() == 50
    months = sorted(set(MonthlyUsage.objects.values_list("month", flat=True)))
    assert (months[0], months[-1], len(months)) == (date(2024, 3, 1), date(2026, 2, 1), 24)
    assert "Created 50 premises with meters and 1200 monthly usage rows" in output
    assert "(2024-03 to 2026-02)" in output


@pytest.mark.usefixtures("reference_data")
def test_the_same_seed_gives_the_same_premises_and_another_seed_others():
    generate("--count", "30", "--seed", "7")
    first = esi_ids()
    Premise.objects.all().delete()

    generate("--count", "30", "--seed", "7", "--batch-size", "7")
    again = esi_ids()
    Premise.objects.all().delete()
    generate("--count", "30", "--seed", "8")

    assert first == again
    assert len(set(first)) == 30
    assert not set(esi_ids()) & set(first)


@pytest.mark.usefixtures("reference_data")
def test_running_again_with_the_same_seed_creates_nothing_and_a_larger_count_adds_the_rest():
    generate("--count", "40")
    usage_rows = MonthlyUsage.objects.count()

    output, _ = generate("--count", "40")
    assert Premise.objects.count() == 40
    assert MonthlyUsage.objects.count() == usage_rows
    assert "Created 0 premises" in output
    assert "skipped 40 already present" in output

    generate("--count", "60")
    assert Premise.objects.count() == 60


@pytest.mark.usefixtures("reference_data")
def test_a_premise_that_already_exists_with_a_generated_esi_id_is_skipped():
    generate("--count", "10", "--seed", "3")
    taken = esi_ids()[4]
    Premise.objects.exclude(esi_id=taken).delete()
    Premise.objects.filter(esi_id=taken).update(service_address="imported from a real feed")

    result = premises_generate(count=10, seed=3, now=NOW)

    assert (result.created, result.skipped_existing) == (9, 1)
    assert Premise.objects.get(esi_id=taken).service_address == "imported from a real feed"
    assert Premise.objects.count() == 10


@pytest.mark.usefixtures("reference_data")
def test_the_mix_of_tdus_classes_and_providers_looks_like_the_texas_market():
    premises_generate(count=300, seed=11, now=NOW)

    tdus = Counter(Premise.objects.values_list("tdu__code", flat=True))
    assert [code for code, _ in tdus.most_common(2)] == ["ONCOR", "CENTERPOINT"]
    assert set(tdus) == {"ONCOR", "CENTERPOINT", "AEP_CENTRAL", "AEP_NORTH", "TNMP"}
    commercial = Premise.objects.filter(customer_class="commercial").count()
    assert 0.05 * 300 <= commercial <= 0.15 * 300
    reps = Counter(Premise.objects.values_list("rep_of_record__certificate_number", flat=True))
    assert reps.most_common(1)[0][0] == "10004"
    assert reps["10004"] > 300 / 10
    assert len(reps) > 15
    addresses = Premise.objects.values_list("service_address", flat=True)
    assert all(", TX 7" in address for address in addresses)


@pytest.mark.usefixtures("reference_data")
def test_residential_usage_peaks_in_july_and_august():
    premises_generate(count=200, seed=5, now=NOW)

    by_month = dict(
        MonthlyUsage.objects.filter(premise__customer_class="residential")
        .values_list("month__month")
        .annotate(average=Avg("kwh"))
    )
    summer = (by_month[7] + by_month[8]) / 2
    assert summer > Decimal("1.3") * max(by_month[month] for month in (3, 4, 5, 10, 11))
    assert sorted(by_month, key=by_month.get)[-2:] in ([7, 8], [8, 7])


@pytest.mark.usefixtures("reference_data")
def test_some_commercial_premises_are_large_and_every_large_one_peaks_each_summer():
    premises_generate(count=300, seed=11, now=NOW)

    peaks = (
        Premise.objects.filter(customer_class="commercial")
        .annotate(peak=Max("monthly_usage__kwh"))
        .values_list("peak", flat=True)
    )
    large = [peak for peak in peaks if peak >= 15_000]
    assert 0 < len(large) < len(peaks)
    large_ids = Premise.objects.filter(monthly_usage__kwh__gte=15_000).values("id")
    for summer in (date(2024, 7, 1), date(2025, 8, 1)):
        assert not MonthlyUsage.objects.filter(
            premise__in=large_ids, month=summer, kwh__lt=15_000
        ).exists()
    assert not MonthlyUsage.objects.filter(
        premise__customer_class="residential", kwh__lt=0
    ).exists()


@pytest.mark.usefixtures("reference_data")
def test_the_summary_ends_with_sample_triples_a_csp_could_authenticate():
    output, _ = generate("--count", "150")

    samples = premise_sample_triples(count=3, customer_class="residential")
    large = premise_sample_triples(count=1, customer_class="commercial", min_monthly_kwh=15_000)
    assert len(samples) == 3 and len(large) == 1
    for esi_id, meter_number, certificate in samples + large:
        assert f"{esi_id} / {meter_number} / {certificate}" in output
        assert Meter.objects.filter(
            premise__esi_id=esi_id,
            number=meter_number,
            removed_on=None,
            premise__rep_of_record=RetailElectricProvider.objects.get(
                certificate_number=certificate
            ),
        ).exists()
    assert Premise.objects.get(esi_id=large[0][0]).customer_class == "commercial"


@pytest.mark.usefixtures("reference_data")
def test_no_progress_bar_is_drawn_when_stderr_is_not_a_terminal():
    _, errors = generate("--count", "20")

    assert errors == ""


@pytest.mark.django_db(transaction=True)
def test_writing_from_several_workers_gives_the_same_premises_as_one():
    # Committed for real, so that PostgreSQL's worker threads see the reference data.
    seed_reference_data(stdout=StringIO())
    premises_generate(count=45, seed=9, now=NOW, batch_size=10, workers=1)
    one = esi_ids()
    Premise.objects.all().delete()

    result = premises_generate(count=45, seed=9, now=NOW, batch_size=10, workers=3)

    assert esi_ids() == one
    assert (result.created, result.usage_rows) == (45, 45 * 24)
    assert MonthlyUsage.objects.count() == 45 * 24


@pytest.mark.usefixtures("reference_data")
def test_the_sample_triples_are_live_premises_a_live_key_authenticates_never_sandbox_ones():
    from django.utils import timezone

    from premises.sandbox import sandbox_premises_seed
    from premises.services import premise_authenticate

    sandbox_premises_seed(now=timezone.now())  # their ids come first, as after ./dev up
    output, _ = generate("--count", "50")

    samples = premise_sample_triples(count=3, customer_class="residential")
    assert len(samples) == 3
    for esi_id, meter_number, certificate in samples:
        assert not Premise.objects.get(esi_id=esi_id).sandbox
        result = premise_authenticate(
            esi_id=esi_id, meter_number=meter_number, rep_certificate_number=certificate,
            now=timezone.now(),
        )  # fmt: skip
        assert result.authenticated, esi_id
    assert "SBX" not in output
