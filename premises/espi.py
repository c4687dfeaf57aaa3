"""Green Button (NAESB ESPI 3.3) Atom feeds of one premise's 15-minute, daily and
monthly usage.

``espi_feed`` streams the document as ``str`` chunks: the feed head (the
feed's own elements, LocalTimeParameters, UsagePoint, and the consumption
ReadingType and MeterReading), then one chunk per day as the days arrive (an
IntervalBlock entry per reading kind), then the closing tag. Nothing is kept
from one day to the next but a flag saying whether the surplus MeterReading
was written, so a year streams in constant memory. The media type is
``ESPI_MEDIA_TYPE`` (``application/atom+xml``).

Resources (each the child of an entry's ``content``, namespace ``espi:``):

- LocalTimeParameters: America/Chicago, standard offset -21600 s, DST +3600 s
  from the 2nd Sunday of March 02:00 to the 1st Sunday of November 02:00
  (ESPI ``DstRuleType`` bit map: month << 28 | operator << 25 | day of month
  << 20 | weekday << 17 (Monday 1 … Sunday 7) | hour << 12 | seconds).
- UsagePoint: electricity (ServiceCategory kind 0).
- MeterReading + ReadingType "consumption": Wh (uom 72, multiplier 0),
  900 s intervals, deltaData (4), forward (1), electricity secondary metered
  (commodity 1), energy (kind 12). A second pair, flow reverse (19), for
  surplus generation, written just before the first day that has any.
- IntervalBlock per day and kind: ``interval`` from the local midnight (UTC
  epoch seconds) for the day's length (82800, 86400 or 90000 s), readings in
  elapsed-time order (on the fall-back day the repeated hour twice, daylight
  time first), each ``timePeriod`` 900 s; estimated consumption readings carry
  ReadingQuality 8 (ESPI "estimated": a machine-computed replacement value).

Links follow Green Button's resource tree under the feed URL (query
dropped): ``…/UsagePoint/1``, ``…/UsagePoint/1/MeterReading/{1,2}``,
``…/UsagePoint/1/MeterReading/{n}/IntervalBlock/{YYYY-MM-DD}``,
``…/ReadingType/{1,2}``, ``…/LocalTimeParameters/1``; parents name children
with ``related`` links (the collection or the resource), children their
collection with ``up``. Atom ids are ``urn:uuid`` (uuid5 of the ESI ID and the
resource's path), so the same input gives the same bytes; ``now`` appears only
in ``updated`` of the feed and of the head's entries. An IntervalBlock entry is
``published``/``updated`` at its day's ``revision_at``.

``espi_daily_feed`` and ``espi_monthly_feed`` write the same head with one
MeterReading + ReadingType (Wh, deltaData, forward; Atom ids of their own, so
they are not the 15-minute resources), then IntervalBlocks of one reading per
period, each from local midnight for the period's length in Central time:

- daily: ReadingType intervalLength 86400 and timeAttribute 11 (daily); one
  block per calendar month, yielded as soon as the month is complete (a year
  streams in constant memory); estimated days carry ReadingQuality 8.
- monthly: timeAttribute 13 (calendar month from midnight on the 1st) and no
  intervalLength (months have no one length, every reading states its own);
  one block per calendar year; a month from billing carries ReadingQuality 17
  (validated), a month summed from intervals that miss some of its days 10
  (questionable), as does an incomplete day; see the constants for why.
IntervalBlocks of these feeds are ``updated`` at ``now`` (figures have no
revision time).
"""

import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from itertools import groupby
from urllib.parse import urlsplit, urlunsplit
from xml.sax.saxutils import escape, quoteattr

from premises.intervals import intervals_in_day
from smt_portal.calendar import CENTRAL

ESPI_MEDIA_TYPE = "application/atom+xml"
ATOM_NS = "http://www.w3.org/2005/Atom"
ESPI_NS = "http://naesb.org/espi"

# Namespace of every Atom id this portal gives a Green Button resource.
_ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:smt-consent-portal:espi")

INTERVAL_SECONDS = 900
TZ_OFFSET = -21600  # Central Standard Time, seconds from UTC
DST_OFFSET = 3600


def dst_rule(*, month: int, operator: int, weekday: int, hour: int, day_of_month: int = 0) -> str:
    """An ESPI ``DstRuleType``: 8 hex digits (weekday Monday = 1 … Sunday = 7)."""
    value = month << 28 | operator << 25 | day_of_month << 20 | weekday << 17 | hour << 12
    return f"{value:08X}"


# US rules since 2007: 2nd Sunday of March (operator 3) and 1st Sunday of November
# (operator 2), both at 02:00 local time.
DST_START_RULE = dst_rule(month=3, operator=3, weekday=7, hour=2)  # 360E2000
DST_END_RULE = dst_rule(month=11, operator=2, weekday=7, hour=2)  # B40E2000

QUALITY_ESTIMATED = 8  # ESPI QualityOfReading: replaced by a machine-computed value

CONSUMPTION, SURPLUS = 1, 2  # MeterReading / ReadingType numbers in the links
FORWARD, REVERSE = 1, 19  # ESPI FlowDirectionKind


@dataclass(frozen=True, slots=True)
class _Series:
    """One MeterReading and its ReadingType: what its readings measure and how long each is."""

    key: str  # names its Atom ids
    number: int  # its MeterReading / ReadingType number in the links
    title: str
    unit: str  # ends the ReadingType's title ("Wh per …")
    flow: int
    interval_length: int | None  # ReadingType.intervalLength (left out when None)
    time_attribute: int  # ReadingType.timeAttribute (ESPI TimePeriodOfInterest)


_FIFTEEN_MINUTES = {
    CONSUMPTION: _Series("consumption", CONSUMPTION, "Consumption", "Wh per 15 minutes",
                         FORWARD, INTERVAL_SECONDS, 0),
    SURPLUS: _Series("surplus", SURPLUS, "Surplus generation", "Wh per 15 minutes",
                     REVERSE, INTERVAL_SECONDS, 0),
}  # fmt: skip


def espi_feed(*, esi_id: str, days: Iterable, feed_url: str, now: datetime) -> Iterator[str]:
    """The Green Button Atom feed of ``esi_id``'s ``days``, chunk by chunk.

    ``days`` yields objects with ``day`` (local date), ``wh`` (watt-hours in
    elapsed-time order, as many as the day has intervals), ``estimated``
    (indexes), ``surplus_wh`` (list or None) and ``revision_at`` (aware).
    A day whose readings do not fit its length raises ``ValueError``.
    """
    updated = _timestamp(now)
    links = _Links(feed_url)
    consumption, surplus = _FIFTEEN_MINUTES[CONSUMPTION], _FIFTEEN_MINUTES[SURPLUS]
    yield _head(esi_id=esi_id, feed_url=feed_url, links=links, updated=updated, series=consumption)
    surplus_described = False
    for day in days:
        chunk = [_interval_block(esi_id, links, consumption, day, day.wh, day.estimated)]
        if day.surplus_wh is not None:
            if not surplus_described:
                chunk.insert(0, _reading_entries(esi_id, links, surplus, updated))
                surplus_described = True
            chunk.append(_interval_block(esi_id, links, surplus, day, day.surplus_wh, ()))
        yield "".join(chunk)
    yield "</feed>\n"


# Daily and monthly figures (``espi_daily_feed``, ``espi_monthly_feed``).
DAY_SECONDS = 86400
# ESPI TimePeriodOfInterest (ReadingType.timeAttribute): "Daily Period starting at midnight"
# and "Monthly period starting at midnight on the first day of the month".
TIME_ATTRIBUTE_DAILY, TIME_ATTRIBUTE_MONTHLY = 11, 13
# ESPI QualityOfReading 17 "validated": "data that has been validated and possibly edited
# and/or estimated in accordance with approved procedures". A month taken from billing is the
# figure the bill was computed from, after the transmission and distribution utility's
# validation, editing and estimation under ERCOT's approved procedures: that is code 17.
# (ESPI 3.3 also has 19 "revenueQuality", "valid and acceptable for billing purposes", which
# says the same a little more narrowly; it is not used because common readers predate it:
# greenbutton-objects, for one, refuses the whole feed on a quality it does not know.)
QUALITY_VALIDATED = 17
# ESPI QualityOfReading 10 "questionable": "data that has failed one or more checks". A day
# or month summed from fewer intervals than its period has fails the completeness check of
# validation: the value is a lower bound, not the period's usage. ESPI has no "partial" code;
# 13 "mixed" speaks of the quality of the parts, 14 "raw" of validation not yet done.
QUALITY_QUESTIONABLE = 10
_BILLING = "billing"  # MonthlyFigure.source of a month taken from billing usage

_DAILY = _Series("consumption/daily", CONSUMPTION, "Daily consumption", "Wh per day",
                 FORWARD, DAY_SECONDS, TIME_ATTRIBUTE_DAILY)  # fmt: skip
# intervalLength is ESPI's *default* length of the readings; a calendar month has none (28 to
# 31 days, and March and November an hour less or more), so it is left out rather than
# stated wrongly for most months (e.g. 2678400). timeAttribute 13 says "calendar month from
# local midnight on the 1st", and every reading carries its exact timePeriod.duration.
_MONTHLY = _Series("consumption/monthly", CONSUMPTION, "Monthly consumption",
                   "Wh per calendar month", FORWARD, None, TIME_ATTRIBUTE_MONTHLY)  # fmt: skip


def espi_daily_feed(
    *, esi_id: str, figures: Iterable, feed_url: str, now: datetime
) -> Iterator[str]:
    """The Green Button Atom feed of ``esi_id``'s daily usage, chunk by chunk.

    ``figures`` yields ``premises.usage_reads.DailyFigure``-like objects (``day``,
    ``wh``, ``estimated``, ``complete``) in ascending order of ``day``. The days of a
    calendar month make one IntervalBlock, yielded as soon as the month's last day
    arrives (or a later month's first, or the end of the input); one reading per day
    from its local midnight for its length (82800, 86400 or 90000 s). Days out of order
    raise ``ValueError``.
    """
    updated = _timestamp(now)
    links = _Links(feed_url)
    yield _head(esi_id=esi_id, feed_url=feed_url, links=links, updated=updated, series=_DAILY,
                feed="feed/daily", usage="daily usage")  # fmt: skip
    readings, first, last = [], None, None
    for figure in figures:
        day = figure.day
        if last is not None and day <= last:
            raise ValueError(f"daily figures must ascend: {day} came after {last}")
        if readings and (day.year, day.month) != (last.year, last.month):
            yield _period_block(esi_id, links, _DAILY, first, last, readings, updated)
            readings = []
        if not readings:
            first = day
        qualities = []
        if figure.estimated:
            qualities.append(QUALITY_ESTIMATED)
        if not figure.complete:
            qualities.append(QUALITY_QUESTIONABLE)
        start, end = _midnight_epoch(day), _midnight_epoch(day + timedelta(days=1))
        readings.append(_period_reading(start, end - start, int(figure.wh), qualities))
        last = day
        if (day + timedelta(days=1)).day == 1:  # the month is complete: write it now
            yield _period_block(esi_id, links, _DAILY, first, last, readings, updated)
            readings = []
    if readings:
        yield _period_block(esi_id, links, _DAILY, first, last, readings, updated)
    yield "</feed>\n"


def espi_monthly_feed(*, esi_id: str, figures: list, feed_url: str, now: datetime) -> Iterator[str]:
    """The Green Button Atom feed of ``esi_id``'s monthly usage, chunk by chunk.

    ``figures`` are ``premises.usage_reads.MonthlyFigure``-like objects (``month``
    the 1st, ``kwh``, ``source``, ``complete``, ``days``) in ascending order. One
    IntervalBlock per calendar year; one reading per month from local midnight on the
    1st for the month's length in Central time, its value in Wh (kWh x 1000, half up).
    A month from billing carries ReadingQuality 17 (validated); a month summed from
    intervals that do not cover all of its days (``complete`` false, or fewer ``days``
    than the month has, as at the edge of a range) carries 10 (questionable).
    """
    updated = _timestamp(now)
    links = _Links(feed_url)
    yield _head(esi_id=esi_id, feed_url=feed_url, links=links, updated=updated, series=_MONTHLY,
                feed="feed/monthly", usage="monthly usage")  # fmt: skip
    previous = None
    for _, in_year in groupby(figures, key=lambda figure: figure.month.year):
        readings, first = [], None
        for figure in in_year:
            month = figure.month
            if month.day != 1 or (previous is not None and month <= previous):
                raise ValueError(f"monthly figures must ascend by 1sts: {month} after {previous}")
            first = first or month
            following = _next_month(month)
            qualities = []
            if figure.source == _BILLING:
                qualities.append(QUALITY_VALIDATED)
            elif not figure.complete or figure.days < (following - month).days:
                qualities.append(QUALITY_QUESTIONABLE)
            wh = int((Decimal(figure.kwh) * 1000).quantize(Decimal(1), rounding=ROUND_HALF_UP))
            start, end = _midnight_epoch(month), _midnight_epoch(following)
            readings.append(_period_reading(start, end - start, wh, qualities))
            previous = month
        last = _next_month(previous) - timedelta(days=1)
        yield _period_block(esi_id, links, _MONTHLY, first, last, readings, updated)
    yield "</feed>\n"


def _next_month(month: date) -> date:
    return (month.replace(day=1) + timedelta(days=32)).replace(day=1)


def _period_reading(start, duration, value, qualities):
    quality = "".join(
        f"<espi:ReadingQuality><espi:quality>{code}</espi:quality></espi:ReadingQuality>"
        for code in qualities
    )
    return (
        f"<espi:IntervalReading>{quality}<espi:timePeriod>"
        f"<espi:duration>{duration}</espi:duration><espi:start>{start}</espi:start>"
        f"</espi:timePeriod><espi:value>{value}</espi:value></espi:IntervalReading>"
    )


def _period_block(esi_id, links, series, first, last, readings, updated):
    """One IntervalBlock from local midnight of ``first`` to the end of ``last``.

    Its link names the month (daily figures) or the year (monthly figures); its Atom id
    the days it spans, so a block cut short by a range is not the whole month's block.
    """
    start, end = _midnight_epoch(first), _midnight_epoch(last + timedelta(days=1))
    label = f"{first:%Y-%m}" if series is _DAILY else f"{first:%Y}"
    blocks = links.interval_blocks(series.number)
    return _entry(
        atom_id=_urn(esi_id, f"IntervalBlock/{series.key}/{first.isoformat()}/{last.isoformat()}"),
        title=f"{series.title} {first.isoformat()} to {last.isoformat()}",
        self_href=f"{blocks}/{label}",
        up_href=blocks,
        related=(),
        published=None,
        updated=updated,
        resource=(
            "<espi:IntervalBlock><espi:interval>"
            f"<espi:duration>{end - start}</espi:duration>"
            f"<espi:start>{start}</espi:start></espi:interval>"
            + "".join(readings)
            + "</espi:IntervalBlock>"
        ),
    )


class _Links:
    def __init__(self, feed_url):
        parts = urlsplit(feed_url)
        self.base = urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))
        self.usage_point = f"{self.base}/UsagePoint/1"
        self.local_time = f"{self.base}/LocalTimeParameters/1"

    def meter_readings(self):
        return f"{self.usage_point}/MeterReading"

    def meter_reading(self, number):
        return f"{self.usage_point}/MeterReading/{number}"

    def reading_type(self, number):
        return f"{self.base}/ReadingType/{number}"

    def interval_blocks(self, number):
        return f"{self.meter_reading(number)}/IntervalBlock"


def _head(*, esi_id, feed_url, links, updated, series, feed="feed", usage="usage"):
    """The feed's own elements, LocalTimeParameters, UsagePoint and ``series``' entries.

    ``feed`` names the feed's Atom id: each kind of feed (15-minute, daily, monthly) is
    its own feed of the premise, whatever range it covers.
    """
    feed_id = _urn(esi_id, feed)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<feed xmlns="{ATOM_NS}" xmlns:espi="{ESPI_NS}">\n'
        f"<id>{feed_id}</id>\n"
        f"<title>Green Button {usage}, ESI ID {escape(esi_id)}</title>\n"
        f"<updated>{updated}</updated>\n"
        f'<link rel="self" href={quoteattr(feed_url)}/>\n'
        + _entry(
            atom_id=_urn("LocalTimeParameters", "America/Chicago"),
            title="America/Chicago (US Central time)",
            self_href=links.local_time,
            up_href=f"{links.base}/LocalTimeParameters",
            related=(),
            published=None,
            updated=updated,
            resource=(
                "<espi:LocalTimeParameters>"
                f"<espi:dstEndRule>{DST_END_RULE}</espi:dstEndRule>"
                f"<espi:dstOffset>{DST_OFFSET}</espi:dstOffset>"
                f"<espi:dstStartRule>{DST_START_RULE}</espi:dstStartRule>"
                f"<espi:tzOffset>{TZ_OFFSET}</espi:tzOffset>"
                "</espi:LocalTimeParameters>"
            ),
        )
        + _entry(
            atom_id=_urn(esi_id, "UsagePoint"),
            title=f"ESI ID {esi_id}",
            self_href=links.usage_point,
            up_href=f"{links.base}/UsagePoint",
            related=(links.meter_readings(), links.local_time),
            published=None,
            updated=updated,
            resource=(
                "<espi:UsagePoint><espi:ServiceCategory><espi:kind>0</espi:kind>"
                "</espi:ServiceCategory></espi:UsagePoint>"
            ),
        )
        + _reading_entries(esi_id, links, series, updated)
    )


def _reading_entries(esi_id, links, series, updated):
    """The MeterReading of one series and its ReadingType."""
    number = series.number
    interval_length = (
        f"<espi:intervalLength>{series.interval_length}</espi:intervalLength>"
        if series.interval_length is not None
        else ""
    )
    return _entry(
        atom_id=_urn(esi_id, f"MeterReading/{series.key}"),
        title=series.title,
        self_href=links.meter_reading(number),
        up_href=links.meter_readings(),
        related=(links.reading_type(number), links.interval_blocks(number)),
        published=None,
        updated=updated,
        resource="<espi:MeterReading/>",
    ) + _entry(
        atom_id=_urn(esi_id, f"ReadingType/{series.key}"),
        title=f"{series.title}, {series.unit}",
        self_href=links.reading_type(number),
        up_href=f"{links.base}/ReadingType",
        related=(),
        published=None,
        updated=updated,
        resource=(
            "<espi:ReadingType>"
            "<espi:accumulationBehaviour>4</espi:accumulationBehaviour>"
            "<espi:commodity>1</espi:commodity>"
            "<espi:dataQualifier>12</espi:dataQualifier>"
            f"<espi:flowDirection>{series.flow}</espi:flowDirection>"
            f"{interval_length}"
            "<espi:kind>12</espi:kind>"
            "<espi:powerOfTenMultiplier>0</espi:powerOfTenMultiplier>"
            f"<espi:timeAttribute>{series.time_attribute}</espi:timeAttribute>"
            "<espi:uom>72</espi:uom>"
            "</espi:ReadingType>"
        ),
    )


def _interval_block(esi_id, links, series, day, values, estimated):
    local_day = day.day
    count = intervals_in_day(local_day)
    if len(values) != count:
        raise ValueError(f"{local_day} has {count} intervals, not {len(values)} ({series.key})")
    start = _midnight_epoch(local_day)
    flagged = set(estimated)
    readings = []
    for index, value in enumerate(values):
        quality = (
            f"<espi:ReadingQuality><espi:quality>{QUALITY_ESTIMATED}</espi:quality>"
            "</espi:ReadingQuality>"
            if index in flagged
            else ""
        )
        readings.append(
            f"<espi:IntervalReading>{quality}<espi:timePeriod>"
            f"<espi:duration>{INTERVAL_SECONDS}</espi:duration>"
            f"<espi:start>{start + index * INTERVAL_SECONDS}</espi:start>"
            f"</espi:timePeriod><espi:value>{int(value)}</espi:value></espi:IntervalReading>"
        )
    revision = _timestamp(day.revision_at)
    blocks = links.interval_blocks(series.number)
    return _entry(
        atom_id=_urn(esi_id, f"IntervalBlock/{series.key}/{local_day.isoformat()}"),
        title=f"{series.title} {local_day.isoformat()}",
        self_href=f"{blocks}/{local_day.isoformat()}",
        up_href=blocks,
        related=(),
        published=revision,
        updated=revision,
        resource=(
            "<espi:IntervalBlock><espi:interval>"
            f"<espi:duration>{count * INTERVAL_SECONDS}</espi:duration>"
            f"<espi:start>{start}</espi:start></espi:interval>"
            + "".join(readings)
            + "</espi:IntervalBlock>"
        ),
    )


def _entry(*, atom_id, title, self_href, up_href, related, published, updated, resource):
    related_links = "".join(f'<link rel="related" href={quoteattr(href)}/>' for href in related)
    published_element = f"<published>{published}</published>" if published else ""
    return (
        f"<entry><id>{atom_id}</id>"
        f'<link rel="self" href={quoteattr(self_href)}/>'
        f'<link rel="up" href={quoteattr(up_href)}/>'
        f"{related_links}<title>{escape(title)}</title>"
        f'<content type="application/xml">{resource}</content>'
        f"{published_element}<updated>{updated}</updated></entry>\n"
    )


def _urn(*parts):
    return f"urn:uuid:{uuid.uuid5(_ID_NAMESPACE, '/'.join(parts))}"


def _midnight_epoch(day: date) -> int:
    return int(datetime.combine(day, time(), tzinfo=CENTRAL).timestamp())


def _timestamp(moment: datetime) -> str:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("ESPI timestamps need an aware datetime")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
