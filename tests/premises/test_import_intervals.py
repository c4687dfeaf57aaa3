import csv
from datetime import date, datetime
from decimal import Decimal
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db import connection

from premises.interval_feed import INTERVAL_COLUMNS, SURPLUS, day_csv_rows
from premises.models import IntervalDay, Premise, RetailElectricProvider, Tdu
from premises.seed import seed_reference_data

pytestmark = pytest.mark.django_db

CENTRAL = ZoneInfo("America/Chicago")
ESI_ID = "10443720001234567"
OTHER_ESI_ID = "10443720007654321"
JUNE_1 = date(2026, 6, 1)
FALL_BACK = date(2026, 11, 1)
SPRING_FORWARD = date(2026, 3, 8)


@pytest.fixture(autouse=True)
def premises():
    seed_reference_data(stdout=StringIO())
    txu = RetailElectricProvider.objects.get(certificate_number="10004")
    oncor = Tdu.objects.get(code="ONCOR")
    return [
        Premise.objects.create(
            esi_id=esi_id,
            tdu=oncor,
            rep_of_record=txu,
            customer_class="residential",
            service_address="1 Main St",
        )
        for esi_id in (ESI_ID, OTHER_ESI_ID)
    ]


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(datetime(2026, 11, 20, 12, tzinfo=CENTRAL), tick=False):
        yield


def revised(day, hour=6):
    return datetime(day.year, day.month, day.day, hour, tzinfo=CENTRAL)


def rows(day, wh, *, esi_id=ESI_ID, revision=None, **options):
    return day_csv_rows(
        esi_id=esi_id, day=day, wh=wh, revision_at=revision or revised(day), **options
    )


@pytest.fixture
def feed(tmp_path):
    counter = iter(range(1000))

    def write(*row_lists):
        path = tmp_path / f"intervals-{next(counter)}.csv"
        with open(path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(INTERVAL_COLUMNS)
            for row_list in row_lists:
                writer.writerows(row_list)
        return path

    return write


def run(path):
    out, err = StringIO(), StringIO()
    try:
        call_command("import_intervals", str(path), stdout=out, stderr=err)
    except CommandError:
        return None, err.getvalue()
    return out.getvalue(), err.getvalue()


def stored(day, esi_id=ESI_ID):
    return IntervalDay.objects.get(premise__esi_id=esi_id, day=day)


def test_a_day_is_stored_as_one_row_with_its_96_readings_and_estimated_indexes(feed):
    out, err = run(feed(rows(JUNE_1, list(range(96)), estimated=[3, 50])))
    assert "1 days written" in out, err
    day = stored(JUNE_1)
    assert day.kwh[:3] == [Decimal("0.000"), Decimal("0.001"), Decimal("0.002")]
    assert len(day.kwh) == 96
    assert day.estimated_indexes == [3, 50]
    assert day.surplus_kwh == []
    assert len(bytes(day.wh)) == 1 + 2 * 96  # int16 watt-hours behind a width byte


def test_a_reading_too_large_for_int16_is_stored_exactly_as_int32(feed):
    out, err = run(feed(rows(JUNE_1, [40_000] + [1] * 95)))  # 40 kWh in a quarter-hour
    assert "1 days written" in out, err
    assert stored(JUNE_1).kwh[:2] == [Decimal("40.000"), Decimal("0.001")]
    assert len(bytes(stored(JUNE_1).wh)) == 1 + 4 * 96


def test_dst_days_hold_92_and_100_readings_with_the_repeated_hour_daylight_time_first(feed):
    fall = list(range(100))
    out, err = run(feed(rows(SPRING_FORWARD, [7] * 92), rows(FALL_BACK, fall)))
    assert "2 days written" in out, err
    assert len(stored(SPRING_FORWARD).kwh) == 92
    # File order: the first 01:00 line is daylight time (index 4), the second standard (8).
    assert stored(FALL_BACK).kwh[4] == Decimal("0.004")
    assert stored(FALL_BACK).kwh[8] == Decimal("0.008")
    assert stored(FALL_BACK).kwh[99] == Decimal("0.099")


def test_the_end_time_may_be_the_start_plus_15_minutes(feed):
    lines = rows(FALL_BACK, [1] * 100)
    for line in lines:
        hour, minute = int(line[3][:2]), int(line[3][3:]) + 15
        line[4] = f"{(hour + minute // 60) % 24:02d}:{minute % 60:02d}"
    out, err = run(feed(lines))
    assert "1 days written" in out, err


def test_surplus_generation_is_kept_apart_from_consumption(feed):
    surplus = rows(JUNE_1, [0] * 40 + [250] * 16 + [0] * 40, kind=SURPLUS)
    run(feed(rows(JUNE_1, [100] * 96), surplus))
    day = stored(JUNE_1)
    assert sum(day.kwh) == Decimal("9.600")
    assert sum(day.surplus_kwh) == Decimal("4.000")


def test_a_later_revision_replaces_the_day_and_an_earlier_one_is_ignored(feed):
    run(feed(rows(JUNE_1, [100] * 96, revision=revised(JUNE_1, 6))))
    out, _ = run(feed(rows(JUNE_1, [200] * 96, revision=revised(date(2026, 6, 3)))))
    assert "1 days written" in out
    assert stored(JUNE_1).kwh[0] == Decimal("0.200")
    out, _ = run(feed(rows(JUNE_1, [300] * 96, revision=revised(JUNE_1, 6))))
    assert "0 days written, 1 days kept" in out
    assert stored(JUNE_1).kwh[0] == Decimal("0.200")
    assert stored(JUNE_1).revision_at == revised(date(2026, 6, 3))


def test_on_a_revision_tie_the_later_import_wins(feed):
    run(feed(rows(JUNE_1, [100] * 96)))
    run(feed(rows(JUNE_1, [150] * 96)))
    assert stored(JUNE_1).kwh[-1] == Decimal("0.150")
    assert IntervalDay.objects.count() == 1


def test_every_bad_line_is_named_and_nothing_is_written(feed):
    good = rows(JUNE_1, [100] * 96, esi_id=OTHER_ESI_ID)
    bad = rows(date(2026, 6, 2), [100] * 96)
    bad[0][5] = "-1"  # line 98
    bad[1][6] = "X"  # line 99
    bad[2][4] = "04:00"  # line 100
    unknown = rows(date(2026, 6, 3), [1] * 96, esi_id="10443720009999999")
    short = rows(date(2026, 6, 4), [1] * 96)[:-2]
    future = rows(date(2026, 6, 5), [1] * 96)
    future[0][1] = "11/21/2026"
    out, err = run(feed(good, bad, unknown, short, future))
    assert out is None
    assert "line 98: kWh must not be negative" in err
    assert "line 99: ESTIMATED_ACTUAL must be A or E" in err
    assert "line 100: USAGE_END_TIME 04:00 does not end the interval starting 00:30" in err
    assert "line 194: unknown ESI ID 10443720009999999" in err
    assert "line 290: ESI ID 10443720001234567 06/04/2026 lacks 2 of 96 Consumption" in err
    assert "line 384: USAGE_DATE 11/21/2026 is in the future" in err
    assert IntervalDay.objects.count() == 0


def test_a_missing_hour_on_the_spring_forward_day_and_a_day_given_twice_are_bad(feed):
    spring = rows(SPRING_FORWARD, [1] * 92)
    spring[8][3], spring[8][4] = "02:00", "02:15"  # line 10
    again = rows(JUNE_1, [1] * 96)
    out, err = run(feed(spring, again, rows(date(2026, 6, 2), [1] * 96), again))
    assert out is None
    assert "line 10: 02:00 does not exist on 2026-03-08" in err
    assert "line 286: ESI ID 10443720001234567 06/01/2026 appears again (first on line 94)" in err
    assert IntervalDay.objects.count() == 0


def test_a_missing_header_column_is_refused(feed, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("ESIID,USAGE_DATE\n", encoding="utf-8")
    out, err = run(path)
    assert out is None
    assert "line 1: header lacks" in err


def test_on_postgresql_the_days_go_to_monthly_partitions(feed):
    if connection.vendor != "postgresql":
        pytest.skip("declarative partitions are PostgreSQL's")
    run(feed(rows(JUNE_1, [1] * 96), rows(FALL_BACK, [1] * 100)))
    run(feed(rows(date(2026, 6, 2), [1] * 96)))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT inhrelid::regclass::text FROM pg_inherits "
            "WHERE inhparent = 'premises_intervalday'::regclass ORDER BY 1"
        )
        partitions = [name for (name,) in cursor.fetchall()]
        cursor.execute("SELECT count(*) FROM premises_intervalday_y2026m06")
        june_days = cursor.fetchone()[0]
    assert partitions == ["premises_intervalday_y2026m06", "premises_intervalday_y2026m11"]
    assert june_days == 2


def test_deleting_a_premise_deletes_its_days(feed, premises):
    run(feed(rows(JUNE_1, [1] * 96), rows(JUNE_1, [1] * 96, esi_id=OTHER_ESI_ID)))
    premises[0].delete()
    assert list(IntervalDay.objects.values_list("premise__esi_id", flat=True)) == [OTHER_ESI_ID]


def postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip("the set-based import is PostgreSQL's")


def sql_import(path):
    """The set-based import alone (no line-by-line fallback): raises if it cannot vouch."""
    from django.db import transaction
    from django.utils import timezone

    from premises.interval_feed import _pg_import

    with transaction.atomic():
        counts, _ = _pg_import(path, today=date(2026, 11, 20), now=timezone.now(), on_progress=None)
    return counts


SAMPLE = {  # day: (consumption wh, estimated indexes, surplus wh or None)
    JUNE_1: ([100 + i for i in range(96)], [], None),
    date(2026, 6, 2): ([40_000, 2**31 - 1] + [5] * 94, [0, 7, 8, 95], None),  # int32
    date(2026, 6, 3): ([32_767] * 96, list(range(96)), [0] * 40 + [32_768] * 16 + [0] * 40),
    SPRING_FORWARD: ([i * 3 for i in range(92)], [6, 7, 8, 91], [1] * 92),
    FALL_BACK: ([i * 7 for i in range(100)], [4, 7, 8, 11, 99], [i for i in range(100)]),
    date(2025, 11, 2): ([70_000] * 100, [], None),  # fall-back day needing int32
}


def sample_rows(esi_id):
    lines = []
    for day, (wh, estimated, surplus) in SAMPLE.items():
        lines += rows(day, wh, esi_id=esi_id, estimated=estimated)
        if surplus is not None:
            lines += rows(day, surplus, esi_id=esi_id, kind=SURPLUS)
    return lines


def test_on_postgresql_the_sql_encoding_is_byte_for_byte_pack_wh_and_pack_flags(feed):
    postgresql_only()
    import uuid

    from django.utils import timezone

    from premises.interval_feed import DayReadings, interval_days_upsert
    from premises.intervals import pack_flags, pack_wh

    counts = sql_import(feed(sample_rows(ESI_ID)))
    assert (counts.days_written, counts.readings) == (len(SAMPLE), 96 * 3 + 92 * 2 + 100 * 3 + 96)
    python_days = [
        DayReadings(OTHER_ESI_ID, day, wh, estimated, surplus, revised(day))
        for day, (wh, estimated, surplus) in SAMPLE.items()
    ]
    interval_days_upsert(python_days, now=timezone.now(), batch=uuid.uuid4())
    for day, (wh, estimated, surplus) in SAMPLE.items():
        by_sql, by_python = stored(day), stored(day, OTHER_ESI_ID)
        assert bytes(by_sql.wh) == bytes(by_python.wh) == pack_wh(wh), day
        assert bytes(by_sql.estimated) == bytes(by_python.estimated), day
        assert bytes(by_sql.estimated) == pack_flags(estimated, len(wh)), day
        expected_surplus = pack_wh(surplus) if surplus is not None else None
        assert by_sql.surplus_wh == by_python.surplus_wh == expected_surplus, day
        assert by_sql.revision_at == by_python.revision_at == revised(day)


def test_on_postgresql_the_fall_back_hour_is_daylight_time_first_in_file_order(feed):
    postgresql_only()
    lines = rows(FALL_BACK, list(range(100)))
    lines[4:12] = lines[8:12] + lines[4:8]  # the same starts; the file's first is daylight time
    lines[7][4] = lines[11][4] = "02:00"
    sql_import(feed(lines))
    first, second = [8, 9, 10, 11], [4, 5, 6, 7]
    assert stored(FALL_BACK).kwh[4:12] == [Decimal(v).scaleb(-3) for v in first + second]


def test_on_postgresql_a_file_the_sql_cannot_vouch_for_is_read_line_by_line(feed):
    postgresql_only()
    from premises.interval_feed import _LineByLine

    unusual = rows(JUNE_1, [1000] * 96)
    unusual[0][5] = " 1"  # Python reads 1 kWh; the SQL takes only the usual forms
    with pytest.raises(_LineByLine):
        sql_import(feed(unusual))
    assert IntervalDay.objects.count() == 0  # nothing of the attempt is left


def test_an_unusual_but_good_file_is_imported_as_before(feed):
    lines = rows(JUNE_1, [1000] * 96, estimated=[2])
    lines[0][5], lines[1][0], lines[2][6] = " 1", f" {ESI_ID} ", "e"
    lines[3], lines[4] = lines[4], lines[3]  # a day's intervals in another order
    lines[5][2] += " "
    out, err = run(feed(lines))
    assert "1 days written" in out, err
    assert stored(JUNE_1).kwh[:5] == [Decimal("1.000")] * 5
    assert stored(JUNE_1).estimated_indexes == [2]


def test_the_second_0145_of_the_fall_back_day_must_end_at_0200(feed):
    lines = rows(FALL_BACK, [1] * 100)
    assert [lines[7][3:5], lines[11][3:5]] == [["01:45", "01:00"], ["01:45", "02:00"]]
    lines[7][4], lines[11][4] = "02:00", "01:00"  # line 13
    out, err = run(feed(lines))
    assert out is None
    assert "line 13: USAGE_END_TIME 01:00 does not end the interval starting 01:45" in err


def test_on_the_spring_forward_day_0145_may_end_at_0300_or_0200(feed):
    lines = rows(SPRING_FORWARD, [1] * 92)
    assert lines[7][3:5] == ["01:45", "03:00"]
    plus = rows(SPRING_FORWARD, [2] * 92, esi_id=OTHER_ESI_ID)
    plus[7][4] = "02:00"
    out, err = run(feed(lines, plus))
    assert "2 days written" in out, err
