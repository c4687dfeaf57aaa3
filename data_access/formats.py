"""The data formats (contract, "Data formats"), each written as a stream of chunks.

A writer takes what the read produced (stored days, daily or monthly figures)
as an iterator and yields text a day (or a month) at a time, so a year of
15-minute data is never one string in memory. Numbers are written from the
stored watt-hours exactly (no floating point): 1234 Wh is ``1.234``.
"""

import json
import sys

from premises.espi import espi_daily_feed, espi_feed, espi_monthly_feed
from premises.interval_feed import CONSUMPTION, INTERVAL_COLUMNS, SURPLUS, day_csv_rows
from premises.usage_reads import (
    daily_figures,
    interval_days_read,
    monthly_figures,
    monthly_usage_read,
)
from smt_portal.calendar import CENTRAL
from smt_portal.csv_export import csv_lines

from .models import DataFormat, DataKind

MEDIA_TYPES = {
    DataFormat.JSON: "application/json",
    DataFormat.CSV: "text/csv; charset=utf-8",
    DataFormat.ESPI: "application/atom+xml",
}
# What each format answers to in an Accept header.
ACCEPTED = {
    "application/json": DataFormat.JSON,
    "text/csv": DataFormat.CSV,
    "application/atom+xml": DataFormat.ESPI,
    "application/xml": DataFormat.ESPI,
    "*/*": DataFormat.JSON,
    "application/*": DataFormat.JSON,
    "text/*": DataFormat.CSV,
}

# Days per chunk: one write to the socket per this many days (JSON: per this many
# times four, ~20 KB).
DAYS_PER_CHUNK = 8


def kwh_text(wh: int) -> str:
    whole, thousandths = divmod(abs(wh), 1000)
    return f"{'-' if wh < 0 else ''}{whole}.{thousandths:03d}"


# Every int16 reading's text, looked up rather than formatted (a year is 35,000).
_KWH_TEXTS = [kwh_text(wh) for wh in range(2**15)]


def _kwh_list(values) -> str:
    if values and 0 <= min(values) and max(values) < len(_KWH_TEXTS):
        return ",".join(map(_KWH_TEXTS.__getitem__, values))
    return ",".join(map(kwh_text, values))


# Every int16's text by its bits read as unsigned (``_KWH_TEXTS`` then the negatives):
# a stored int16 day (``pack_wh``) is formatted straight from its bytes.
_KWH_TEXTS_U16 = _KWH_TEXTS + [kwh_text(wh) for wh in range(-(2**15), 0)]
_LITTLE_ENDIAN = sys.byteorder == "little"


def _kwh_json(values, packed) -> str:
    """``values`` as kWh texts; from ``packed`` (their ``pack_wh`` bytes) when it holds int16s."""
    if _LITTLE_ENDIAN and packed is not None and packed[0] == 2:
        return ",".join(map(_KWH_TEXTS_U16.__getitem__, memoryview(packed)[1:].cast("H")))
    return _kwh_list(values)


def _head(esi_id, start, end, extra=""):
    return (
        f'{{"esi_id":{json.dumps(esi_id)},"timezone":"America/Chicago","unit":"kWh",'
        f'"start":"{start}","end":"{end}"{extra},'
    )


def _chunked(pieces, per_chunk=DAYS_PER_CHUNK):
    batch = []
    for piece in pieces:
        batch.append(piece)
        if len(batch) >= per_chunk:
            yield "".join(batch)
            batch = []
    if batch:
        yield "".join(batch)


def intervals_json(*, esi_id, start, end, days):
    """``{"esi_id", "timezone", "unit", "start", "end", "days": [{"date", "kwh",
    "estimated", "surplus_kwh"?, "revision_at"}]}``."""
    yield _head(esi_id, start, end) + '"days":['

    def entries():
        separator = ""
        for stored in days:
            surplus = (
                f',"surplus_kwh":[{_kwh_json(stored.surplus_wh, stored.surplus_packed)}]'
                if stored.surplus_wh
                else ""
            )
            estimated = ",".join(map(str, stored.estimated))
            yield (
                f'{separator}{{"date":"{stored.day}",'
                f'"kwh":[{_kwh_json(stored.wh, stored.wh_packed)}],'
                f'"estimated":[{estimated}]{surplus},'
                f'"revision_at":"{stored.revision_at.astimezone(CENTRAL).isoformat()}"}}'
            )
            separator = ","

    yield from _chunked(entries(), per_chunk=DAYS_PER_CHUNK * 4)
    yield "]}"


def daily_json(*, esi_id, start, end, figures):
    """``{"days": [{"date", "kwh", "estimated", "intervals", "complete", "source"}]}``
    (daily figures are always summed from intervals)."""
    yield _head(esi_id, start, end) + '"days":['

    def entries():
        separator = ""
        for figure in figures:
            yield (
                f'{separator}{{"date":"{figure.day}","kwh":{kwh_text(figure.wh)},'
                f'"estimated":{"true" if figure.estimated else "false"},'
                f'"intervals":{figure.intervals},'
                f'"complete":{"true" if figure.complete else "false"},"source":"intervals"}}'
            )
            separator = ","

    yield from _chunked(entries(), per_chunk=64)
    yield "]}"


def monthly_json(*, esi_id, start, end, figures):
    """``{"months": [{"month": "YYYY-MM", "kwh", "source", "complete", "days"}]}``:
    ``source`` is ``intervals`` (summed) or ``billing`` (the monthly billing usage)."""
    entries = ",".join(
        f'{{"month":"{figure.month:%Y-%m}","kwh":{figure.kwh:f},"source":"{figure.source}",'
        f'"complete":{"true" if figure.complete else "false"},"days":{figure.days}}}'
        for figure in figures
    )
    yield _head(esi_id, start, end) + '"months":[' + entries + "]}"


def _csv_lines(rows_of_items, header):
    """The CSV (through ``csv_export``, like every CSV the portal writes), a few
    days per chunk."""
    rows = (row for rows in rows_of_items for row in rows)
    yield from _chunked(csv_lines(header, rows), per_chunk=DAYS_PER_CHUNK * 96)


def intervals_csv(*, esi_id, days):
    """Smart Meter Texas's interval CSV (``import_intervals`` reads it back)."""

    def rows():
        for stored in days:
            day_rows = day_csv_rows(
                esi_id=esi_id, day=stored.day, wh=stored.wh, estimated=stored.estimated,
                revision_at=stored.revision_at, kind=CONSUMPTION,
            )  # fmt: skip
            if stored.surplus_wh:
                day_rows += day_csv_rows(
                    esi_id=esi_id, day=stored.day, wh=stored.surplus_wh, estimated=(),
                    revision_at=stored.revision_at, kind=SURPLUS,
                )  # fmt: skip
            yield day_rows

    yield from _csv_lines(rows(), INTERVAL_COLUMNS)


DAILY_COLUMNS = ("ESIID", "USAGE_DATE", "USAGE_KWH", "ESTIMATED_ACTUAL", "INTERVALS", "SOURCE")
MONTHLY_COLUMNS = ("ESIID", "USAGE_MONTH", "USAGE_KWH", "SOURCE", "COMPLETE", "DAYS")


def daily_csv(*, esi_id, figures):
    rows = (
        [[esi_id, f"{f.day:%m/%d/%Y}", kwh_text(f.wh), "E" if f.estimated else "A",
          f.intervals, "intervals"]]
        for f in figures
    )  # fmt: skip
    yield from _csv_lines(rows, DAILY_COLUMNS)


def monthly_csv(*, esi_id, figures):
    rows = (
        [[esi_id, f"{f.month:%m/%Y}", f"{f.kwh:f}", f.source, "Y" if f.complete else "N", f.days]]
        for f in figures
    )
    yield from _csv_lines(rows, MONTHLY_COLUMNS)


# --- One read, in the format asked for ------------------------------------------------
# The data endpoints and the customer's own download (``accounts``) answer alike.


class UsageRead:
    """The stored rows of one premise's range for ``kind``, read now and written
    later (``chunks``) in any format: the stamps (``stamped`` and ``billing``)
    identify what was read."""

    def __init__(self, *, kind, premise_id, start, end):
        self.kind, self.start, self.end = kind, start, end
        self.stamped = interval_days_read(premise_id, start, end)
        self.billing = (
            monthly_usage_read(premise_id, start, end) if kind == DataKind.MONTHLY else []
        )

    @property
    def extra_stamps(self):
        return tuple(self.billing)

    def chunks(self, *, format, esi_id, feed_url, now, count=None):
        """The answer as text chunks; ``count`` sees each stored day as it is written."""
        days = self.stamped.days()
        if count is not None:
            days = count(days)
        start, end = self.start, self.end
        if self.kind == DataKind.INTERVALS:
            if format == DataFormat.CSV:
                return intervals_csv(esi_id=esi_id, days=days)
            if format == DataFormat.ESPI:
                return espi_feed(esi_id=esi_id, days=days, feed_url=feed_url, now=now)
            return intervals_json(esi_id=esi_id, start=start, end=end, days=days)
        figures = daily_figures(days)
        if self.kind == DataKind.MONTHLY:
            figures = monthly_figures(start, end, figures, self.billing)
            if format == DataFormat.CSV:
                return monthly_csv(esi_id=esi_id, figures=figures)
            if format == DataFormat.ESPI:
                return espi_monthly_feed(esi_id=esi_id, figures=figures, feed_url=feed_url, now=now)
            return monthly_json(esi_id=esi_id, start=start, end=end, figures=figures)
        if format == DataFormat.CSV:
            return daily_csv(esi_id=esi_id, figures=figures)
        if format == DataFormat.ESPI:
            return espi_daily_feed(esi_id=esi_id, figures=figures, feed_url=feed_url, now=now)
        return daily_json(esi_id=esi_id, start=start, end=end, figures=figures)


def attachment_name(*, esi_id, kind, format, start, end) -> str:
    """The file name a download is saved under."""
    extension = "csv" if format == DataFormat.CSV else "xml"
    return f"{esi_id}_{kind}_{start}_{end}.{extension}"
