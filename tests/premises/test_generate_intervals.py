import csv
from datetime import date, datetime, timedelta
from decimal import Decimal
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import call_command

from premises.interval_feed import INTERVAL_COLUMNS, day_csv_rows
from premises.intervals import unpack_wh
from premises.models import IntervalDay, MonthlyUsage, Premise
from premises.seed import seed_reference_data
from premises.synthetic import premises_generate

pytestmark = pytest.mark.django_db

CENTRAL = ZoneInfo("America/Chicago")
# 1 July 2026: yesterday is 30 June, so 30 days are the whole of June.
JULY_1 = datetime(2026, 7, 1, 12, tzinfo=CENTRAL)


@pytest.fixture(autouse=True)
def premises():
    seed_reference_data(stdout=StringIO())
    with time_machine.travel(JULY_1, tick=False):
        premises_generate(count=4, seed=3, now=JULY_1)


def generate(*args, now=JULY_1):
    out = StringIO()
    with time_machine.travel(now, tick=False):
        call_command("generate_intervals", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def snapshot():
    return {
        (day.premise_id, day.day): (bytes(day.wh), bytes(day.estimated), day.revision_at)
        for day in IntervalDay.objects.all()
    }


def test_it_writes_the_last_days_of_the_first_premises_by_esi_id():
    out = generate("--days", "30", "--premises", "2", "--seed", "7")
    assert "2 premises, 2026-06-01 to 2026-06-30: 60 days written" in out
    first_two = list(Premise.objects.order_by("esi_id").values_list("id", flat=True)[:2])
    assert set(IntervalDay.objects.values_list("premise_id", flat=True)) == set(first_two)


def test_a_month_of_intervals_adds_up_to_about_the_monthly_usage():
    generate("--days", "30", "--seed", "7")
    for premise in Premise.objects.all():
        june = MonthlyUsage.objects.get(premise=premise, month=date(2026, 6, 1)).kwh
        total = sum(sum(unpack_wh(day.wh)) for day in IntervalDay.objects.filter(premise=premise))
        assert abs(Decimal(total) / 1000 - june) <= june * Decimal("0.1"), premise.esi_id


def test_the_day_has_a_shape_some_estimated_intervals_and_some_revisions():
    generate("--days", "30", "--seed", "7")
    days = list(IntervalDay.objects.all())
    assert any(day.estimated_indexes for day in days)
    assert any(day.revision_at.date() > day.day + timedelta(days=1) for day in days)
    night = sum(sum(day.kwh[12:20]) for day in days)  # 03:00-05:00
    evening = sum(sum(day.kwh[68:76]) for day in days)  # 17:00-19:00
    assert evening > night * Decimal("1.5")


def test_the_same_seed_writes_the_same_values_and_another_seed_others():
    generate("--days", "3", "--seed", "7")
    first = snapshot()
    generate("--days", "3", "--seed", "7")
    assert snapshot() == first
    generate("--days", "3", "--seed", "8")
    assert snapshot() != first


def test_the_fall_back_day_gets_100_intervals():
    generate("--days", "3", "--premises", "1", now=datetime(2026, 11, 3, 9, tzinfo=CENTRAL))
    assert len(IntervalDay.objects.get(day=date(2026, 11, 1)).kwh) == 100
    assert len(IntervalDay.objects.get(day=date(2026, 11, 2)).kwh) == 96


def test_generated_data_written_out_as_smt_csv_imports_back_unchanged(tmp_path):
    generate("--days", "4", "--premises", "2", now=datetime(2026, 3, 10, 9, tzinfo=CENTRAL))
    before = snapshot()
    path = tmp_path / "round-trip.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(INTERVAL_COLUMNS)
        for day in IntervalDay.objects.select_related("premise").order_by("premise", "day"):
            writer.writerows(
                day_csv_rows(
                    esi_id=day.premise.esi_id,
                    day=day.day,
                    wh=unpack_wh(day.wh),
                    estimated=day.estimated_indexes,
                    revision_at=day.revision_at,
                )
            )
    IntervalDay.objects.all().delete()
    out = StringIO()
    with time_machine.travel(datetime(2026, 3, 10, 9, tzinfo=CENTRAL), tick=False):
        call_command("import_intervals", str(path), stdout=out, stderr=StringIO())
    assert "8 days written" in out.getvalue()
    assert snapshot() == before
    assert len(IntervalDay.objects.filter(day=date(2026, 3, 8)).first().kwh) == 92


def test_generating_again_counts_every_day_written_and_none_kept(monkeypatch):
    monkeypatch.setattr("premises.interval_synthetic.BATCH_PREMISES", 1)  # one batch each
    generate("--days", "3", "--seed", "7")
    out = generate("--days", "3", "--seed", "7")
    assert "4 premises, 2026-06-28 to 2026-06-30: 12 days written, 0 days kept" in out
