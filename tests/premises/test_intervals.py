import struct
from datetime import date

import pytest

from premises.intervals import (
    IntervalError,
    end_matches,
    interval_end_wall,
    interval_index,
    interval_start,
    intervals_in_day,
    pack_flags,
    pack_wh,
    unpack_flags,
    unpack_wh,
)

SPRING_FORWARD = date(2026, 3, 8)
FALL_BACK = date(2026, 11, 1)
ORDINARY = date(2026, 6, 1)


def starts(day):
    return [f"{interval_start(day, i):%H:%M %Z}" for i in range(intervals_in_day(day))]


def test_an_ordinary_day_has_96_intervals_from_midnight_to_23_45():
    assert intervals_in_day(ORDINARY) == 96
    assert starts(ORDINARY)[0] == "00:00 CDT"
    assert starts(ORDINARY)[-1] == "23:45 CDT"


def test_the_spring_forward_day_has_92_intervals_and_skips_two_oclock():
    labels = starts(SPRING_FORWARD)
    assert len(labels) == 92
    assert labels[7:9] == ["01:45 CST", "03:00 CDT"]
    assert not any(label.startswith("02:") for label in labels)


def test_the_fall_back_day_has_100_intervals_with_the_repeated_hour_daylight_time_first():
    labels = starts(FALL_BACK)
    assert len(labels) == 100
    assert labels[4:12] == [
        "01:00 CDT", "01:15 CDT", "01:30 CDT", "01:45 CDT",
        "01:00 CST", "01:15 CST", "01:30 CST", "01:45 CST",
    ]  # fmt: skip
    assert labels[12] == "02:00 CST"


def test_a_start_time_in_file_order_gives_the_elapsed_time_index():
    assert interval_index(ORDINARY, "00:00") == 0
    assert interval_index(ORDINARY, "23:45") == 95
    assert interval_index(SPRING_FORWARD, "03:00") == 8
    assert interval_index(FALL_BACK, "01:15") == 5
    assert interval_index(FALL_BACK, "01:15", repeat=True) == 9
    assert interval_index(FALL_BACK, "02:00") == 12
    assert interval_index(FALL_BACK, "23:45") == 99


def test_a_start_time_that_does_not_exist_or_repeats_on_an_ordinary_day_is_refused():
    with pytest.raises(IntervalError, match="does not exist"):
        interval_index(SPRING_FORWARD, "02:30")
    with pytest.raises(IntervalError, match="appears again"):
        interval_index(ORDINARY, "01:15", repeat=True)
    with pytest.raises(IntervalError, match="quarter-hour"):
        interval_index(ORDINARY, "01:10")
    with pytest.raises(IntervalError, match="HH:MM"):
        interval_index(ORDINARY, "24:00")


def test_the_end_may_be_the_wall_clock_end_or_the_start_plus_15_minutes():
    assert interval_end_wall(ORDINARY, 95) == "00:00"
    # The last daylight-time quarter of the fall-back day ends at 01:00 CST.
    assert end_matches(FALL_BACK, 7, "01:45", "01:00")
    assert end_matches(FALL_BACK, 7, "01:45", "02:00")
    # 01:45 CST on the spring-forward day ends at 03:00 CDT.
    assert end_matches(SPRING_FORWARD, 7, "01:45", "03:00")
    assert end_matches(SPRING_FORWARD, 7, "01:45", "02:00")
    assert not end_matches(ORDINARY, 0, "00:00", "00:30")


def test_readings_pack_as_int16_behind_a_width_byte_and_as_int32_only_when_one_needs_it():
    values = list(range(100))
    assert len(pack_wh(values)) == 1 + 2 * 100
    assert unpack_wh(pack_wh(values)) == values
    large = [32767, 32768, 2**31 - 1, 0]
    assert len(pack_wh(large)) == 1 + 4 * 4
    assert unpack_wh(pack_wh(large)) == large
    assert unpack_wh(pack_wh([-32768, 5])) == [-32768, 5]


def test_a_blob_pack_wh_did_not_write_is_refused_rather_than_misread():
    old_int32 = struct.pack("<96i", *range(96))
    for blob in (old_int32, b"", b"\x03" + bytes(8), b"\x02" + bytes(3), b"\x04" + bytes(6)):
        with pytest.raises(ValueError, match="not a packed watt-hour array"):
            unpack_wh(blob)


def test_estimated_flags_pack_as_a_bitmask_without_trailing_zero_bytes():
    assert len(pack_flags([0, 9, 99], 100)) == 13
    assert unpack_flags(pack_flags([0, 9, 99], 100)) == [0, 9, 99]
    assert pack_flags([], 96) == b""
    assert unpack_flags(pack_flags([3], 96)) == [3]
    assert len(pack_flags([3], 96)) == 1
    with pytest.raises(IntervalError):
        pack_flags([96], 96)
