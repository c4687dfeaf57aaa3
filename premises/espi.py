"""Green Button (NAESB ESPI 3.3) Atom feed of one premise's 15-minute data.

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
"""

import uuid
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, time
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
_FLOW = {CONSUMPTION: 1, SURPLUS: 19}  # forward, reverse
_TITLE = {CONSUMPTION: "Consumption", SURPLUS: "Surplus generation"}
_KIND = {CONSUMPTION: "consumption", SURPLUS: "surplus"}


def espi_feed(*, esi_id: str, days: Iterable, feed_url: str, now: datetime) -> Iterator[str]:
    """The Green Button Atom feed of ``esi_id``'s ``days``, chunk by chunk.

    ``days`` yields objects with ``day`` (local date), ``wh`` (watt-hours in
    elapsed-time order, as many as the day has intervals), ``estimated``
    (indexes), ``surplus_wh`` (list or None) and ``revision_at`` (aware).
    A day whose readings do not fit its length raises ``ValueError``.
    """
    updated = _timestamp(now)
    links = _Links(feed_url)
    yield _head(esi_id=esi_id, feed_url=feed_url, links=links, updated=updated)
    surplus_described = False
    for day in days:
        chunk = [_interval_block(esi_id, links, CONSUMPTION, day, day.wh, day.estimated)]
        if day.surplus_wh is not None:
            if not surplus_described:
                chunk.insert(0, _reading_entries(esi_id, links, SURPLUS, updated))
                surplus_described = True
            chunk.append(_interval_block(esi_id, links, SURPLUS, day, day.surplus_wh, ()))
        yield "".join(chunk)
    yield "</feed>\n"


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


def _head(*, esi_id, feed_url, links, updated):
    feed_id = _urn(esi_id, "feed")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<feed xmlns="{ATOM_NS}" xmlns:espi="{ESPI_NS}">\n'
        f"<id>{feed_id}</id>\n"
        f"<title>Green Button usage, ESI ID {escape(esi_id)}</title>\n"
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
        + _reading_entries(esi_id, links, CONSUMPTION, updated)
    )


def _reading_entries(esi_id, links, number, updated):
    """The MeterReading of one kind and its ReadingType."""
    return _entry(
        atom_id=_urn(esi_id, f"MeterReading/{_KIND[number]}"),
        title=_TITLE[number],
        self_href=links.meter_reading(number),
        up_href=links.meter_readings(),
        related=(links.reading_type(number), links.interval_blocks(number)),
        published=None,
        updated=updated,
        resource="<espi:MeterReading/>",
    ) + _entry(
        atom_id=_urn(esi_id, f"ReadingType/{_KIND[number]}"),
        title=f"{_TITLE[number]}, Wh per 15 minutes",
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
            f"<espi:flowDirection>{_FLOW[number]}</espi:flowDirection>"
            f"<espi:intervalLength>{INTERVAL_SECONDS}</espi:intervalLength>"
            "<espi:kind>12</espi:kind>"
            "<espi:powerOfTenMultiplier>0</espi:powerOfTenMultiplier>"
            "<espi:timeAttribute>0</espi:timeAttribute>"
            "<espi:uom>72</espi:uom>"
            "</espi:ReadingType>"
        ),
    )


def _interval_block(esi_id, links, number, day, values, estimated):
    local_day = day.day
    count = intervals_in_day(local_day)
    if len(values) != count:
        raise ValueError(f"{local_day} has {count} intervals, not {len(values)} ({_KIND[number]})")
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
    blocks = links.interval_blocks(number)
    return _entry(
        atom_id=_urn(esi_id, f"IntervalBlock/{_KIND[number]}/{local_day.isoformat()}"),
        title=f"{_TITLE[number]} {local_day.isoformat()}",
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
