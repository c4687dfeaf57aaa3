from datetime import date, datetime
from decimal import Decimal
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction

from premises.models import MonthlyUsage, Premise, RetailElectricProvider, Tdu
from premises.seed import seed_reference_data

pytestmark = pytest.mark.django_db

HEADER = "esi_id,month,kwh"
ONCOR_ID = "10443720001234567"
CENTERPOINT_ID = "1008901023801234567100"


@pytest.fixture(autouse=True)
def premises():
    seed_reference_data(stdout=StringIO())
    txu = RetailElectricProvider.objects.get(certificate_number="10004")
    return [
        Premise.objects.create(
            esi_id=esi_id,
            tdu=Tdu.objects.get(code=code),
            rep_of_record=txu,
            customer_class="commercial",
            service_address="1 Main St",
        )
        for esi_id, code in [(ONCOR_ID, "ONCOR"), (CENTERPOINT_ID, "CENTERPOINT")]
    ]


@pytest.fixture(autouse=True)
def clock():
    # Mid-June 2026 in Central time: June is the current month, July the future.
    with time_machine.travel(datetime(2026, 6, 15, 12, tzinfo=ZoneInfo("America/Chicago"))):
        yield


@pytest.fixture
def feed(tmp_path):
    counter = iter(range(1000))

    def write(*lines):
        path = tmp_path / f"usage-{next(counter)}.csv"
        path.write_text("\n".join([HEADER, *lines]) + "\n", encoding="utf-8")
        return path

    return write


def run(path):
    out = StringIO()
    call_command("import_usage", str(path), stdout=out, stderr=StringIO())
    return out.getvalue()


def usage():
    return {
        (row.premise.esi_id, f"{row.month:%Y-%m}"): row.kwh
        for row in MonthlyUsage.objects.select_related("premise")
    }


def test_monthly_usage_is_stored_on_the_first_day_of_its_month(feed):
    output = run(feed(f"{ONCOR_ID},2025-07,16250.5", "'1008901 0238 0123 4567 100,2026-06,0"))

    assert usage() == {
        (ONCOR_ID, "2025-07"): Decimal("16250.500"),
        (CENTERPOINT_ID, "2026-06"): Decimal("0.000"),
    }
    assert MonthlyUsage.objects.filter(month=date(2025, 7, 1)).exists()
    assert "2 created, 0 updated, 0 unchanged" in output


def test_importing_usage_again_upserts_by_premise_and_month(feed):
    run(feed(f"{ONCOR_ID},2025-07,100", f"{ONCOR_ID},2025-08,200"))

    output = run(feed(f"{ONCOR_ID},2025-07,100.000", f"{ONCOR_ID},2025-08,250.125"))

    assert usage() == {
        (ONCOR_ID, "2025-07"): Decimal("100"),
        (ONCOR_ID, "2025-08"): Decimal("250.125"),
    }
    assert "0 created, 1 updated, 1 unchanged" in output


def test_a_usage_file_with_bad_rows_is_refused_whole_and_each_bad_row_is_named(feed):
    run(feed(f"{ONCOR_ID},2025-07,100"))
    path = feed(
        f"{ONCOR_ID},2025-07,999",
        "10443720009999999,2025-07,1",
        f"{ONCOR_ID},2025-13,1",
        f"{ONCOR_ID},2025/08,1",
        f"{ONCOR_ID},2025-09,-1",
        f"{ONCOR_ID},2025-10,lots",
        f"{ONCOR_ID},2025-11,1.2345",
        f"{ONCOR_ID},2026-07,1",
        f"{ONCOR_ID},2025-12,NaN",
        f"{ONCOR_ID},2025-07,5",
        "1044372000123456,2025-07,1",
    )

    err = StringIO()
    with pytest.raises(CommandError, match="10 problem"):
        call_command("import_usage", str(path), stdout=StringIO(), stderr=err)

    assert err.getvalue().splitlines() == [
        "line 3: unknown ESI ID 10443720009999999",
        "line 4: month must be YYYY-MM, not '2025-13'",
        "line 5: month must be YYYY-MM, not '2025/08'",
        "line 6: kWh must not be negative",
        "line 7: kWh must be a number, not 'lots'",
        "line 8: kWh has more than 3 decimal places",
        "line 9: month 2026-07 is in the future",
        "line 10: kWh must be a number, not 'NaN'",
        f"line 11: ESI ID {ONCOR_ID} month 2025-07 appears again (first on line 2)",
        "line 12: ESI ID must have 17 or 22 digits",
    ]
    assert usage() == {(ONCOR_ID, "2025-07"): Decimal("100")}


def test_reimporting_a_large_usage_file_takes_a_few_queries_not_one_per_row(
    feed, django_assert_max_num_queries
):
    rows = [
        f"{esi_id},{year}-{month:02d},{month * 100}"
        for esi_id in (ONCOR_ID, CENTERPOINT_ID)
        for year in range(2010, 2026)
        for month in range(1, 13)
    ]
    path = feed(*rows)
    run(path)

    with django_assert_max_num_queries(8):
        output = run(path)

    assert f"0 created, 0 updated, {len(rows)} unchanged" in output


def test_the_database_refuses_negative_usage(premises):
    with pytest.raises(IntegrityError), transaction.atomic():
        MonthlyUsage.objects.create(premise=premises[0], month=date(2025, 1, 1), kwh=-1)


def test_the_database_refuses_a_second_row_for_one_month(premises):
    MonthlyUsage.objects.create(premise=premises[0], month=date(2025, 1, 1), kwh=1)

    with pytest.raises(IntegrityError), transaction.atomic():
        MonthlyUsage.objects.create(premise=premises[0], month=date(2025, 1, 1), kwh=2)


def test_a_month_or_kwh_written_with_non_ascii_digits_is_refused(feed):
    path = feed(f"{ONCOR_ID},２０２５-０７,100", f"{ONCOR_ID},2025-08,١٢٣")
    err = StringIO()
    with pytest.raises(CommandError, match="2 problem"):
        call_command("import_usage", str(path), stdout=StringIO(), stderr=err)
    assert err.getvalue().splitlines() == [
        "line 2: month must be YYYY-MM, not '２０２５-０７'",
        "line 3: kWh must be a number, not '١٢٣'",
    ]
    assert usage() == {}
