"""The 15-minute JSON is written straight from the stored int16 bytes when it can:
the same text as from the decoded readings, whatever the values."""

import json
from datetime import UTC, date, datetime

from data_access.formats import intervals_json
from premises.intervals import pack_flags, pack_wh, unpack_flags, unpack_wh
from premises.usage_reads import StoredDay, _Stamped

REVISED = datetime(2026, 6, 2, 11, tzinfo=UTC)
DAYS = [  # day, consumption, estimated indexes, surplus
    (date(2026, 6, 1), [0, 1, 999, 1000, 32_767] + [12_345] * 91, [0, 95], None),
    (date(2026, 6, 2), [40_000, 2**31 - 1] + [5] * 94, [], None),  # int32
    (date(2026, 6, 3), [-1, -32_768, 7] + [0] * 93, [3], [32_767] * 96),  # negatives (int16)
    (date(2026, 6, 4), [3] * 96, [], [0] * 40 + [32_768] * 16 + [0] * 40),  # surplus int32
]


def stored_rows():
    return [
        (day, pack_wh(wh), pack_flags(estimated, len(wh)),
         pack_wh(surplus) if surplus is not None else None, REVISED)
        for day, wh, estimated, surplus in DAYS
    ]  # fmt: skip


def body(days):
    return "".join(
        intervals_json(esi_id="10443720001234567", start="2026-06-01", end="2026-06-04", days=days)
    )


def test_the_json_from_the_stored_bytes_is_the_json_from_the_decoded_readings():
    decoded = [
        StoredDay(day, unpack_wh(wh), unpack_flags(flags), unpack_wh(s) if s else None, at)
        for day, wh, flags, s, at in stored_rows()
    ]
    from_bytes = list(_Stamped(stored_rows()).days())
    assert [day.wh_packed for day in from_bytes] == [row[1] for row in stored_rows()]
    assert body(from_bytes) == body(decoded)
    as_memoryviews = [
        (day, memoryview(wh), memoryview(flags), memoryview(s) if s else None, at)
        for day, wh, flags, s, at in stored_rows()
    ]  # as the PostgreSQL driver may give them
    assert body(_Stamped(as_memoryviews).days()) == body(decoded)
    document = json.loads(body(from_bytes))
    assert document["days"][0]["kwh"][:5] == [0.0, 0.001, 0.999, 1.0, 32.767]
    assert document["days"][1]["kwh"][:2] == [40.0, 2147483.647]
    assert document["days"][2]["kwh"][:3] == [-0.001, -32.768, 0.007]
    assert document["days"][2]["surplus_kwh"][0] == 32.767
    assert document["days"][3]["surplus_kwh"][40] == 32.768
