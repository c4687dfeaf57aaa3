"""The Green Button (ESPI) writer, checked against the ESPI schema and read
back by an independent parser (``greenbutton-objects``)."""

import io
import itertools
import tracemalloc
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import xmlschema
from django.conf import settings
from greenbutton_objects import enums, parse

from premises.espi import DST_END_RULE, DST_START_RULE, espi_feed
from premises.intervals import interval_start, intervals_in_day
from smt_portal.calendar import CENTRAL

ESPI_DIR = Path(settings.BASE_DIR).parent / "shared" / "data" / "espi"
USAGE_XSD = xmlschema.XMLSchema(ESPI_DIR / "usage.xsd")  # imports atom.xsd: both namespaces
ATOM = "{http://www.w3.org/2005/Atom}"
ESPI = "{http://naesb.org/espi}"

ESI_ID = "10443720001234567"
FEED_URL = "https://portal.test/api/v1/data/10443720001234567/espi?from=2026-03-07&to=2026-11-02"
NOW = datetime(2026, 12, 1, 18, 30, tzinfo=UTC)
SPRING_FORWARD = date(2026, 3, 8)
FALL_BACK = date(2026, 11, 1)
ORDINARY = date(2026, 6, 1)


@dataclass
class Day:
    day: date
    wh: list
    estimated: list = field(default_factory=list)
    surplus_wh: list | None = None
    revision_at: datetime = datetime(2026, 11, 20, 9, 15, tzinfo=UTC)


def a_day(day, *, estimated=(), surplus=False, base=100):
    count = intervals_in_day(day)
    return Day(
        day=day,
        wh=[base + index for index in range(count)],
        estimated=list(estimated),
        surplus_wh=[index % 7 for index in range(count)] if surplus else None,
        revision_at=datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=UTC),
    )


def feed_text(days, *, now=NOW, feed_url=FEED_URL, esi_id=ESI_ID):
    return "".join(espi_feed(esi_id=esi_id, days=days, feed_url=feed_url, now=now))


def xml_tree(text):
    return ET.fromstring(text)  # noqa: S314 -- the writer's own output, not untrusted input


def resources(text):
    root = xml_tree(text)
    return [content[0] for content in root.iterfind(f"{ATOM}entry/{ATOM}content") if len(content)]


def read_back(text):
    """Usage points as ``greenbutton-objects`` reads them."""
    return parse.parse_feed(io.BytesIO(text.encode()))


def meter_readings_by_flow(text):
    (usage_point,) = read_back(text)
    return {reading.readingType.flowDirection: reading for reading in usage_point.meterReadings}


def test_every_resource_is_valid_espi_and_the_whole_feed_valid_atom():
    text = feed_text(
        [a_day(SPRING_FORWARD, estimated=[3]), a_day(ORDINARY, surplus=True), a_day(FALL_BACK)]
    )

    found = resources(text)
    for resource in found:
        USAGE_XSD.validate(resource)
    assert sorted({resource.tag.removeprefix(ESPI) for resource in found}) == [
        "IntervalBlock",
        "LocalTimeParameters",
        "MeterReading",
        "ReadingType",
        "UsagePoint",
    ]
    # The feed as a whole against atom.xsd (imported by usage.xsd), the ESPI content strictly.
    USAGE_XSD.validate(io.StringIO(text))
    root = xml_tree(text)
    assert root.tag == f"{ATOM}feed"
    assert root.find(f"{ATOM}link[@rel='self']").get("href") == FEED_URL


def test_an_independent_reader_gets_back_every_value_timestamp_and_estimated_flag():
    days = [a_day(ORDINARY, estimated=[0, 50, 95]), a_day(ORDINARY + timedelta(days=1), base=7)]

    consumption = meter_readings_by_flow(feed_text(days))[enums.FlowDirectionType.forward]

    readings = list(consumption.intervalReadings)
    assert [reading.value for reading in readings] == days[0].wh + days[1].wh
    expected_starts = [
        interval_start(day.day, index).astimezone(UTC)
        for day in days
        for index in range(len(day.wh))
    ]
    assert [reading.timePeriod.start for reading in readings] == expected_starts
    assert {reading.timePeriod.duration for reading in readings} == {timedelta(minutes=15)}
    estimated = [
        index
        for index, reading in enumerate(readings)
        if {quality.quality for quality in reading.readingQualities}
        == {enums.QualityOfReading.estimatedUsingReferenceDay}
    ]
    assert estimated == [0, 50, 95]
    assert all(len(reading.readingQualities) <= 1 for reading in readings)


def test_the_reading_type_says_watt_hours_of_electricity_delivered_per_15_minutes():
    (usage_point,) = read_back(feed_text([a_day(ORDINARY)]))
    (reading,) = usage_point.meterReadings
    kind = reading.readingType

    assert usage_point.serviceCategory == enums.ServiceKind.electricity
    assert kind.uom == enums.UomType.wattHours
    assert kind.powerOfTenMultiplier == 0
    assert kind.intervalLength == 900
    assert kind.accumulationBehaviour == enums.AccumulationBehaviourType.deltaData
    assert kind.flowDirection == enums.FlowDirectionType.forward
    assert kind.commodity == enums.CommodityType.electricity
    assert kind.kind == enums.KindType.energy


def test_the_spring_forward_day_is_one_block_of_23_hours_with_92_readings():
    (block,) = meter_readings_by_flow(feed_text([a_day(SPRING_FORWARD)]))[
        enums.FlowDirectionType.forward
    ].intervalBlocks

    assert block.interval.start == datetime(2026, 3, 8, 6, tzinfo=UTC)  # local midnight, CST
    assert block.interval.duration == timedelta(seconds=82800)
    walls = [f"{r.timePeriod.start.astimezone(CENTRAL):%H:%M}" for r in block.intervalReadings]
    assert len(walls) == 92
    assert walls[7:9] == ["01:45", "03:00"]


def test_the_fall_back_day_has_100_readings_the_repeated_hour_twice_daylight_time_first():
    (block,) = meter_readings_by_flow(feed_text([a_day(FALL_BACK)]))[
        enums.FlowDirectionType.forward
    ].intervalBlocks

    assert block.interval.start == datetime(2026, 11, 1, 5, tzinfo=UTC)  # local midnight, CDT
    assert block.interval.duration == timedelta(seconds=90000)
    local = [r.timePeriod.start.astimezone(CENTRAL) for r in block.intervalReadings]
    assert len(local) == 100
    one_oclock = [(f"{moment:%H:%M}", moment.utcoffset()) for moment in local if moment.hour == 1]
    cdt, cst = timedelta(hours=-5), timedelta(hours=-6)
    assert one_oclock == [
        ("01:00", cdt), ("01:15", cdt), ("01:30", cdt), ("01:45", cdt),
        ("01:00", cst), ("01:15", cst), ("01:30", cst), ("01:45", cst),
    ]  # fmt: skip
    assert [r.value for r in block.intervalReadings] == a_day(FALL_BACK).wh


def _rule_moment(rule, year):
    """Decode an ESPI DstRuleType (weekday-occurrence operators 2-6 only): a naive wall time."""
    value = int(rule, 16)
    month, operator = value >> 28, value >> 25 & 0b111
    weekday, hour = value >> 17 & 0b111, value >> 12 & 0b11111
    assert 2 <= operator <= 6 and value & 0xFFF == 0
    first = date(year, month, 1)
    first_match = first + timedelta(days=(weekday - first.isoweekday()) % 7)
    day = first_match + timedelta(weeks=operator - 2)
    return datetime(day.year, day.month, day.day, hour)


def offset_at(wall):
    return wall.replace(tzinfo=CENTRAL).utcoffset()


def test_local_time_parameters_describe_central_time_and_its_dst_rules():
    (local_time,) = [r for r in resources(feed_text([])) if r.tag == f"{ESPI}LocalTimeParameters"]

    assert local_time.findtext(f"{ESPI}tzOffset") == "-21600"
    assert local_time.findtext(f"{ESPI}dstOffset") == "3600"
    assert local_time.findtext(f"{ESPI}dstStartRule") == DST_START_RULE == "360E2000"
    assert local_time.findtext(f"{ESPI}dstEndRule") == DST_END_RULE == "B40E2000"
    cst, cdt, minute = timedelta(hours=-6), timedelta(hours=-5), timedelta(minutes=1)
    for year in (2026, 2027, 2030):
        start, end = _rule_moment(DST_START_RULE, year), _rule_moment(DST_END_RULE, year)
        # Standard time until the start rule's 02:00, daylight time after it; daylight time
        # before the end rule's day repeats its 01:00 hour, standard time from 02:00 on.
        assert offset_at(start - minute) == cst and offset_at(start + timedelta(hours=1)) == cdt
        assert offset_at(end - timedelta(hours=1) - minute) == cdt
        assert offset_at(end + minute) == cst
        assert intervals_in_day(start.date()) == 92 and intervals_in_day(end.date()) == 100


def test_surplus_generation_is_a_separate_reverse_flow_meter_reading():
    days = [a_day(ORDINARY), a_day(ORDINARY + timedelta(days=1), surplus=True)]

    by_flow = meter_readings_by_flow(feed_text(days))

    assert set(by_flow) == {enums.FlowDirectionType.forward, enums.FlowDirectionType.reverse}
    surplus = by_flow[enums.FlowDirectionType.reverse]
    assert surplus.readingType.uom == enums.UomType.wattHours
    assert [r.value for r in surplus.intervalReadings] == days[1].surplus_wh
    assert not any(r.readingQualities for r in surplus.intervalReadings)
    consumption = by_flow[enums.FlowDirectionType.forward]
    assert [r.value for r in consumption.intervalReadings] == days[0].wh + days[1].wh


def test_without_surplus_there_is_only_the_consumption_meter_reading():
    assert set(meter_readings_by_flow(feed_text([a_day(ORDINARY)]))) == {
        enums.FlowDirectionType.forward
    }


def test_an_empty_range_still_gives_a_valid_feed_with_the_usage_point():
    text = feed_text([])

    USAGE_XSD.validate(io.StringIO(text))
    (usage_point,) = read_back(text)
    (consumption,) = usage_point.meterReadings
    assert list(consumption.intervalReadings) == []


def test_the_same_input_gives_the_same_bytes_and_the_clock_shows_only_in_updated():
    days = [a_day(SPRING_FORWARD, estimated=[1]), a_day(FALL_BACK, surplus=True)]
    later = NOW + timedelta(days=3, seconds=7)

    first, again, next_run = feed_text(days), feed_text(days), feed_text(days, now=later)

    assert first == again
    assert first.replace("2026-12-01T18:30:00Z", "NOW") == next_run.replace(
        "2026-12-04T18:30:07Z", "NOW"
    )
    root = xml_tree(first)
    ids = [element.text for element in root.iter(f"{ATOM}id")]
    assert all(atom_id.startswith("urn:uuid:") for atom_id in ids)
    assert len(ids) == len(set(ids))
    other_premise = xml_tree(feed_text(days, esi_id="10443720009999999"))
    other_ids = {element.text for element in other_premise.iter(f"{ATOM}id")}
    shared = ids[1:2]  # the LocalTimeParameters (America/Chicago) are the same for every premise
    assert set(ids) & other_ids == set(shared)


def test_the_feed_streams_a_day_at_a_time_without_reading_ahead():
    pulled = []

    def endless_days():
        for offset in itertools.count():
            if offset > 10:  # endless, but a writer that reads ahead fails fast instead of hanging
                raise AssertionError("the writer read days ahead of what it wrote")
            day = ORDINARY + timedelta(days=offset)
            pulled.append(day)
            yield a_day(day)

    chunks = espi_feed(esi_id=ESI_ID, days=endless_days(), feed_url=FEED_URL, now=NOW)

    head = next(chunks)
    assert pulled == []
    assert head.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<feed ')
    first, second = next(chunks), next(chunks)
    assert pulled == [ORDINARY, ORDINARY + timedelta(days=1)]
    assert first.count("<espi:IntervalReading>") == second.count("<espi:IntervalReading>") == 96


def test_a_year_streams_in_memory_much_smaller_than_the_document():
    days = (a_day(date(2026, 1, 1) + timedelta(days=offset)) for offset in range(365))
    tracemalloc.start()
    try:
        total = 0
        for chunk in espi_feed(esi_id=ESI_ID, days=days, feed_url=FEED_URL, now=NOW):
            total += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert total > 4_000_000
    assert peak < total / 10


def test_urls_and_names_are_escaped():
    url = 'https://portal.test/espi?from=2026-06-01&to=2026-06-02&note="<x>"'

    text = feed_text([a_day(ORDINARY)], feed_url=url, esi_id="1044<&>")

    root = xml_tree(text)
    assert root.find(f"{ATOM}link[@rel='self']").get("href") == url
    assert root.findtext(f"{ATOM}title").endswith("1044<&>")
    hrefs = [link.get("href") for link in root.iter(f"{ATOM}link")]
    assert all(href.startswith("https://portal.test/espi") for href in hrefs)
    assert not any("?" in href for href in hrefs[1:])


def test_a_day_with_the_wrong_number_of_readings_is_refused():
    short = a_day(FALL_BACK)
    short.wh = short.wh[:96]

    with pytest.raises(ValueError, match="2026-11-01 has 100 intervals, not 96"):
        feed_text([short])
