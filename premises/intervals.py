"""Pure arithmetic of 15-minute intervals in a local (America/Chicago) day.

A local day holds 96 quarter-hours, 92 on the spring-forward day and 100 on
the fall-back day. Index 0 starts at local midnight; indexes run in elapsed
time, so on the fall-back day the repeated 01:00-02:00 hour appears twice,
daylight time (CDT) first. Smart Meter Texas files name an interval by its
wall-clock start ``HH:MM``; on the fall-back day the first occurrence of a
repeated start is daylight time, the second standard time (file order).

Also here: the compact encoding of a day's readings (watt-hours as little-endian
int16, or int32 when needed, behind a width byte; estimated flags as a bitmask)
used by ``premises.models.IntervalDay``.
"""

import struct
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from smt_portal.calendar import CENTRAL

MINUTES = 15
STEP = timedelta(minutes=MINUTES)


class IntervalError(ValueError):
    pass


def _midnight_utc(day):
    return datetime.combine(day, time(), tzinfo=CENTRAL).astimezone(UTC)


def intervals_in_day(day: date) -> int:
    """92, 96 or 100: the quarter-hours elapsed between two local midnights."""
    return (_midnight_utc(day + timedelta(days=1)) - _midnight_utc(day)) // STEP


def interval_start(day: date, index: int) -> datetime:
    """The aware local start (``CENTRAL``) of interval ``index`` of ``day``."""
    if not 0 <= index < intervals_in_day(day):
        raise IntervalError(f"{day} has no interval {index}")
    return (_midnight_utc(day) + index * STEP).astimezone(CENTRAL)


def interval_end_wall(day: date, index: int) -> str:
    """``HH:MM`` wall-clock end of interval ``index`` (``00:00`` for the last)."""
    end = interval_start(day, index).astimezone(UTC) + STEP
    return f"{end.astimezone(CENTRAL):%H:%M}"


def interval_index(day: date, hhmm: str, *, repeat: bool = False) -> int:
    """The index of the interval of ``day`` starting at wall-clock ``hhmm``.

    ``repeat`` is the second occurrence of a start time in file order: only
    on the fall-back day, in the repeated hour, is there one (standard time).
    """
    hour, minute = parse_hhmm(hhmm)
    if minute % MINUTES:
        raise IntervalError(f"{hhmm} is not on a quarter-hour")
    wall = datetime.combine(day, time(hour, minute), tzinfo=CENTRAL).replace(fold=int(repeat))
    instant = wall.astimezone(UTC)
    back = instant.astimezone(CENTRAL)
    if (back.hour, back.minute) != (hour, minute):
        raise IntervalError(f"{hhmm} does not exist on {day} (clocks go forward)")
    if repeat and back.fold == 0:
        raise IntervalError(f"interval {hhmm} appears again")
    return (instant - _midnight_utc(day)) // STEP


def parse_hhmm(raw: str):
    value = raw.strip()
    if len(value) != 5 or value[2] != ":" or not (value[:2] + value[3:]).isdigit():
        raise IntervalError(f"time must be HH:MM, not {raw!r}")
    hour, minute = int(value[:2]), int(value[3:])
    if hour > 23 or minute > 59:
        raise IntervalError(f"time must be HH:MM, not {raw!r}")
    return hour, minute


def end_matches(day: date, index: int, start_hhmm: str, end_hhmm: str) -> bool:
    """True when ``end_hhmm`` is the wall-clock end or the start plus 15 minutes."""
    hour, minute = parse_hhmm(start_hhmm)
    naive = (hour * 60 + minute + MINUTES) % (24 * 60)
    plus = f"{naive // 60:02d}:{naive % 60:02d}"
    return end_hhmm.strip() in (plus, interval_end_wall(day, index))


# --- Compact encoding -----------------------------------------------------------

WH_LIMIT = 2**31 - 1
_WIDTHS = {2: "h", 4: "i"}  # bytes per value: int16, int32


def pack_wh(values) -> bytes:
    """Watt-hours (ints), self-describing: one byte giving the width of every
    value (2 when each fits in an int16, else 4), then the values little-endian.

    The only encoder of ``IntervalDay.wh`` and ``surplus_wh``: a residential
    day of 96 readings takes 193 bytes. Always an odd length, so a blob of
    whole int32s (the old encoding) cannot be mistaken for one.
    """
    width = 2 if not values or -(2**15) <= min(values) and max(values) < 2**15 else 4
    return bytes((width,)) + struct.pack(f"<{len(values)}{_WIDTHS[width]}", *values)


def unpack_wh(blob) -> list[int]:
    """The values ``pack_wh`` encoded; ValueError for anything it did not write."""
    blob = bytes(blob)
    width = blob[0] if blob else None
    if width not in _WIDTHS or (len(blob) - 1) % width:
        raise ValueError(f"not a packed watt-hour array ({len(blob)} bytes)")
    return list(struct.unpack(f"<{(len(blob) - 1) // width}{_WIDTHS[width]}", blob[1:]))


def wh_to_kwh(values) -> list[Decimal]:
    return [Decimal(value).scaleb(-3) for value in values]


def pack_flags(indexes, count: int) -> bytes:
    """Indexes below ``count`` as a bitmask (bit i of byte i // 8) without its
    trailing zero bytes: empty when there are none, as on most days."""
    mask = bytearray((count + 7) // 8)
    for index in indexes:
        if not 0 <= index < count:
            raise IntervalError(f"no interval {index} of {count}")
        mask[index // 8] |= 1 << (index % 8)
    return bytes(mask).rstrip(b"\0")


def unpack_flags(blob) -> list[int]:
    blob = bytes(blob)
    return [i for i in range(len(blob) * 8) if blob[i // 8] >> (i % 8) & 1]
