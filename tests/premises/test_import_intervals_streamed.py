"""import_intervals on PostgreSQL: a file in SMT's own layout is matched a day at a
time and its days COPYed already encoded (``_pg_import_streamed``); any other
header goes through the SQL grouping (``_pg_import_sql``); anything either cannot
vouch for is read line by line. Every path stores the same bytes."""

import uuid
from datetime import date

import pytest
from django.db import connection, transaction
from django.utils import timezone

from premises.interval_feed import (
    INTERVAL_COLUMNS,
    DayReadings,
    _LineByLine,
    interval_days_upsert,
)
from premises.intervals import pack_flags, pack_wh
from premises.models import IntervalDay

from . import test_import_intervals as base
from .test_import_intervals import (
    ESI_ID,
    JUNE_1,
    OTHER_ESI_ID,
    SAMPLE,
    revised,
    rows,
    sample_rows,
    stored,
)

# The fixtures of the line-by-line tests (premises and a frozen clock, autouse; feed).
premises, clock, feed = base.premises, base.clock, base.feed

pytestmark = pytest.mark.django_db
TODAY = date(2026, 11, 20)


@pytest.fixture(autouse=True)
def postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip("the streamed and set-based imports are PostgreSQL's")


def import_with(function_name, path):
    from premises import interval_feed

    with transaction.atomic():
        counts, _ = getattr(interval_feed, function_name)(
            path, today=TODAY, now=timezone.now(), on_progress=None
        )
    return counts


def write(tmp_path, text, name="file.csv"):
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def csv_text(*row_lists, header=INTERVAL_COLUMNS, newline="\r\n"):
    lines = [",".join(header)] + [",".join(row) for rows_ in row_lists for row in rows_]
    return newline.join(lines) + newline


def assert_same_bytes_as_the_python_encoder():
    python_days = [
        DayReadings(OTHER_ESI_ID, day, wh, estimated, surplus, revised(day))
        for day, (wh, estimated, surplus) in SAMPLE.items()
    ]
    interval_days_upsert(python_days, now=timezone.now(), batch=uuid.uuid4())
    for day, (wh, estimated, surplus) in SAMPLE.items():
        imported, by_python = stored(day), stored(day, OTHER_ESI_ID)
        assert bytes(imported.wh) == bytes(by_python.wh) == pack_wh(wh), day
        assert bytes(imported.estimated) == bytes(by_python.estimated), day
        assert bytes(imported.estimated) == pack_flags(estimated, len(wh)), day
        expected_surplus = pack_wh(surplus) if surplus is not None else None
        assert imported.surplus_wh == by_python.surplus_wh == expected_surplus, day
        assert imported.revision_at == by_python.revision_at == revised(day)


def test_a_file_in_smts_layout_is_stored_by_the_streamed_import_byte_for_byte(feed):
    counts = import_with("_pg_import_streamed", feed(sample_rows(ESI_ID)))
    assert (counts.days_written, counts.days_kept) == (len(SAMPLE), 0)
    assert counts.readings == 96 * 3 + 92 * 2 + 100 * 3 + 96
    assert_same_bytes_as_the_python_encoder()


def test_a_file_with_its_columns_in_another_order_goes_through_the_sql_import(tmp_path):
    header = list(INTERVAL_COLUMNS)
    header[5], header[6] = header[6], header[5]
    lines = [row[:5] + [row[6], row[5]] + row[7:] for row in sample_rows(ESI_ID)]
    path = write(tmp_path, csv_text(lines, header=header))
    with pytest.raises(_LineByLine):
        import_with("_pg_import_streamed", path)
    counts = import_with("_pg_import", path)  # the SQL import, as before
    assert counts.days_written == len(SAMPLE)
    assert_same_bytes_as_the_python_encoder()


def test_the_streamed_import_takes_lf_endings_a_bom_and_a_last_line_without_its_break(tmp_path):
    text = csv_text(rows(JUNE_1, [5] * 96, estimated=[0, 95]), newline="\n")
    path = write(tmp_path, b"\xef\xbb\xbf" + text.rstrip("\n").encode())
    counts = import_with("_pg_import_streamed", path)
    assert (counts.days_written, counts.readings) == (1, 96)
    assert stored(JUNE_1).estimated_indexes == [0, 95]


def test_the_streamed_import_reads_days_across_its_blocks(tmp_path, monkeypatch):
    from premises import interval_feed

    monkeypatch.setattr(interval_feed, "_STREAMED_BLOCK", 1000)
    monkeypatch.setattr(interval_feed, "_STREAMED_DAY_MAX", 20_000)
    monkeypatch.setattr(interval_feed, "_STREAMED_CHUNK", 2)
    days = [date(2026, 6, d) for d in range(1, 6)]
    lines = [rows(day, [day.day * 10 + i for i in range(96)]) for day in days]
    lines += [rows(day, [7] * 96, esi_id=OTHER_ESI_ID) for day in days]
    counts = import_with("_pg_import_streamed", write(tmp_path, csv_text(*lines)))
    assert counts.days_written == 10
    for day in days:
        assert bytes(stored(day).wh) == pack_wh([day.day * 10 + i for i in range(96)])
        assert bytes(stored(day, OTHER_ESI_ID).wh) == pack_wh([7] * 96)


@pytest.mark.parametrize(
    "spoil",
    [
        pytest.param(lambda lines: lines.__setitem__(5, lines[5][:5] + [" 1.000"] + lines[5][6:]),
                     id="a kWh with a space"),
        pytest.param(lambda lines: lines.__setitem__(slice(3, 5), [lines[4], lines[3]]),
                     id="two intervals swapped"),
        pytest.param(lambda lines: lines.__setitem__(9, lines[9][:6] + ["e"] + lines[9][7:]),
                     id="a lower-case flag"),
        pytest.param(lambda lines: lines.__setitem__(2, lines[2][:5] + ["2147483.648"]
                                                     + lines[2][6:]), id="a reading above int32"),
        pytest.param(lambda lines: lines.pop(), id="a missing interval"),
        pytest.param(lambda lines: lines.extend(lines[:96]), id="a day given twice"),
        pytest.param(lambda lines: lines.extend(rows(JUNE_1, [1] * 96, esi_id="10443720009999999")),
                     id="an unknown ESI ID"),
        pytest.param(lambda lines: lines.__setitem__(1, lines[1][:2] + ["06/02/2026 06:00:00"]
                                                     + lines[1][3:]), id="two revisions"),
    ],
)  # fmt: skip
def test_whatever_the_streamed_import_cannot_vouch_for_is_left_to_the_line_by_line_check(
    tmp_path, spoil
):
    lines = rows(JUNE_1, [1000] * 96)
    spoil(lines)
    with pytest.raises(_LineByLine):
        import_with("_pg_import_streamed", write(tmp_path, csv_text(lines)))
    assert IntervalDay.objects.count() == 0
