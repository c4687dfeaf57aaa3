"""The Green Button (ESPI) writer, checked against the ESPI schema and read
back by an independent parser (``greenbutton-objects``)."""

import io
import itertools
import tracemalloc
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import xmlschema
from django.conf import settings
from greenbutton_objects import enums, parse

from premises.espi import (
    DST_END_RULE,
    DST_START_RULE,
    espi_daily_feed,
    espi_feed,
    espi_monthly_feed,
)
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


# Daily and monthly figures. The stand-ins carry exactly the fields of
# premises.usage_reads.DailyFigure and MonthlyFigure that the writers read.


@dataclass
class DailyFigure:
    day: date
    wh: int
    estimated: bool = False
    intervals: int = 96
    complete: bool = True


@dataclass
class MonthlyFigure:
    month: date
    kwh: Decimal
    source: str = "intervals"
    complete: bool = True
    days: int = 0
    intervals: int = 0


def daily(first, count, *, estimated=(), incomplete=()):
    """``count`` consecutive days from ``first``; their wh says which day they are."""
    figures = []
    for offset in range(count):
        day = first + timedelta(days=offset)
        figures.append(
            DailyFigure(
                day=day,
                wh=10_000 + day.month * 100 + day.day,
                estimated=day in estimated,
                intervals=intervals_in_day(day),
                complete=day not in incomplete,
            )
        )
    return figures


def month_length(month):
    return ((month + timedelta(days=32)).replace(day=1) - month).days


def monthly(month, kwh, **fields):
    fields.setdefault("days", month_length(month) if fields.get("source") != "billing" else 0)
    return MonthlyFigure(month=month, kwh=Decimal(kwh), **fields)


def daily_text(figures, *, now=NOW, esi_id=ESI_ID):
    return "".join(espi_daily_feed(esi_id=esi_id, figures=figures, feed_url=FEED_URL, now=now))


def monthly_text(figures, *, now=NOW, esi_id=ESI_ID):
    return "".join(espi_monthly_feed(esi_id=esi_id, figures=figures, feed_url=FEED_URL, now=now))


def the_meter_reading(text):
    (usage_point,) = read_back(text)
    (reading,) = usage_point.meterReadings
    return reading


def qualities(reading):
    return {quality.quality for quality in reading.readingQualities}


def local_midnight(day):
    return datetime(day.year, day.month, day.day, tzinfo=CENTRAL).astimezone(UTC)


def assert_valid_espi(text):
    found = resources(text)
    for resource in found:
        USAGE_XSD.validate(resource)
    USAGE_XSD.validate(io.StringIO(text))
    assert sorted({resource.tag.removeprefix(ESPI) for resource in found}) == [
        "IntervalBlock",
        "LocalTimeParameters",
        "MeterReading",
        "ReadingType",
        "UsagePoint",
    ]


def test_every_resource_of_the_daily_feed_is_valid_espi_and_the_whole_feed_valid_atom():
    figures = daily(date(2026, 2, 20), 260, estimated={SPRING_FORWARD}, incomplete={ORDINARY})

    assert_valid_espi(daily_text(figures))


def test_a_reader_gets_back_each_days_watt_hours_from_local_midnight_for_the_days_length():
    figures = daily(date(2026, 3, 6), 5) + daily(date(2026, 10, 30), 5)

    readings = list(the_meter_reading(daily_text(figures)).intervalReadings)

    assert [reading.value for reading in readings] == [figure.wh for figure in figures]
    assert [reading.timePeriod.start for reading in readings] == [
        local_midnight(figure.day) for figure in figures
    ]
    hours = {
        f.day: r.timePeriod.duration / timedelta(hours=1)
        for f, r in zip(figures, readings, strict=True)
    }
    assert hours[SPRING_FORWARD] == 23 and hours[FALL_BACK] == 25
    assert hours[date(2026, 3, 7)] == hours[date(2026, 11, 2)] == 24
    assert readings[2].timePeriod.start == datetime(2026, 3, 8, 6, tzinfo=UTC)  # CST midnight
    assert readings[3].timePeriod.start == datetime(2026, 3, 9, 5, tzinfo=UTC)  # CDT midnight


def test_an_estimated_day_is_flagged_estimated_and_an_incomplete_day_questionable():
    first = date(2026, 7, 1)
    figures = daily(first, 4, estimated={first, first + timedelta(days=2)},
                    incomplete={first + timedelta(days=2), first + timedelta(days=3)})  # fmt: skip

    readings = list(the_meter_reading(daily_text(figures)).intervalReadings)

    estimated = enums.QualityOfReading.estimatedUsingReferenceDay
    questionable = enums.QualityOfReading.questionable
    assert [qualities(reading) for reading in readings] == [
        {estimated},
        set(),
        {estimated, questionable},
        {questionable},
    ]


def test_the_daily_reading_type_says_watt_hours_of_electricity_delivered_per_day():
    kind = the_meter_reading(daily_text(daily(ORDINARY, 1))).readingType

    assert kind.uom == enums.UomType.wattHours
    assert kind.powerOfTenMultiplier == 0
    assert kind.intervalLength == 86400
    assert kind.timeAttribute == enums.TimeAttributeType.daily
    assert kind.accumulationBehaviour == enums.AccumulationBehaviourType.deltaData
    assert kind.flowDirection == enums.FlowDirectionType.forward
    assert kind.commodity == enums.CommodityType.electricity
    assert kind.kind == enums.KindType.energy


def test_days_are_blocked_by_calendar_month_from_the_first_days_midnight_to_the_last_days_end():
    figures = daily(date(2026, 2, 27), 12) + daily(date(2026, 3, 20), 2)  # a gap in March

    blocks = the_meter_reading(daily_text(figures)).intervalBlocks

    assert [len(block.intervalReadings) for block in blocks] == [2, 12]
    february, march = (block.interval for block in blocks)
    assert february.start == local_midnight(date(2026, 2, 27))
    assert february.duration == timedelta(days=2)
    assert march.start == local_midnight(date(2026, 3, 1))
    assert march.start + march.duration == local_midnight(date(2026, 3, 22))
    assert march.duration == timedelta(days=21, hours=-1)  # spring forward inside
    root = xml_tree(daily_text(figures))
    hrefs = [link.get("href") for link in root.iterfind(f"{ATOM}entry/{ATOM}link[@rel='self']")]
    block_links = [href.rsplit("/", 1)[1] for href in hrefs if "/IntervalBlock/" in href]
    assert block_links == ["2026-02", "2026-03"]


def test_the_daily_feed_yields_each_month_when_its_last_day_arrives_without_reading_ahead():
    pulled = []

    def endless_figures():
        for offset in itertools.count():
            if offset > 70:  # endless, but a writer that reads ahead fails fast instead of hanging
                raise AssertionError("the writer read days ahead of what it wrote")
            (figure,) = daily(ORDINARY + timedelta(days=offset), 1)
            pulled.append(figure.day)
            yield figure

    chunks = espi_daily_feed(esi_id=ESI_ID, figures=endless_figures(), feed_url=FEED_URL, now=NOW)

    head = next(chunks)
    assert pulled == []
    assert head.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<feed ')
    june = next(chunks)
    assert pulled[-1] == date(2026, 6, 30) and len(pulled) == 30
    july = next(chunks)
    assert pulled[-1] == date(2026, 7, 31) and len(pulled) == 61
    assert june.count("<espi:IntervalReading>") == 30
    assert july.count("<espi:IntervalReading>") == 31


def test_decades_of_daily_figures_stream_in_memory_much_smaller_than_the_document():
    first = date(2000, 1, 1)
    figures = (daily(first + timedelta(days=offset), 1)[0] for offset in range(30 * 365))
    tracemalloc.start()
    try:
        total = 0
        for chunk in espi_daily_feed(esi_id=ESI_ID, figures=figures, feed_url=FEED_URL, now=NOW):
            total += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert total > 2_000_000
    assert peak < total / 20


def test_daily_figures_out_of_order_are_refused():
    figures = daily(ORDINARY, 3)
    figures[1], figures[2] = figures[2], figures[1]

    with pytest.raises(ValueError, match="must ascend: 2026-06-02 came after 2026-06-03"):
        daily_text(figures)


def test_every_resource_of_the_monthly_feed_is_valid_espi_and_the_whole_feed_valid_atom():
    figures = [
        monthly(date(2025, 12, 1), "1200.5", source="billing"),
        monthly(date(2026, 1, 1), "1100.25"),
        monthly(date(2026, 2, 1), "950", complete=False, days=20),
    ]

    assert_valid_espi(monthly_text(figures))


def test_a_reader_gets_back_each_months_watt_hours_from_the_1st_for_its_length_in_central_time():
    figures = [monthly(date(2026, month, 1), f"{month}00.0125") for month in range(1, 13)]

    readings = list(the_meter_reading(monthly_text(figures)).intervalReadings)

    assert [reading.value for reading in readings] == [
        month * 100_000 + 13
        for month in range(1, 13)  # x.0125 kWh is 12.5 Wh: half up
    ]
    assert [reading.timePeriod.start for reading in readings] == [
        local_midnight(date(2026, month, 1)) for month in range(1, 13)
    ]
    lengths = [reading.timePeriod.duration for reading in readings]
    assert lengths[1] == timedelta(days=28)
    assert lengths[2] == timedelta(days=31, hours=-1)  # March loses the spring-forward hour
    assert lengths[5] == timedelta(days=30)
    assert lengths[10] == timedelta(days=30, hours=1)  # November repeats an hour
    assert (
        sum(lengths, timedelta()) == local_midnight(date(2027, 1, 1)) - readings[0].timePeriod.start
    )


def test_a_billed_month_is_validated_and_a_month_missing_days_questionable():
    figures = [
        monthly(date(2026, 1, 1), "1000"),  # every day from intervals
        monthly(date(2026, 2, 1), "900", source="billing"),
        monthly(date(2026, 3, 1), "400", complete=False, days=12),
        monthly(date(2026, 4, 1), "300", days=10),  # the range ended on the 10th
    ]

    readings = list(the_meter_reading(monthly_text(figures)).intervalReadings)

    assert [qualities(reading) for reading in readings] == [
        set(),
        {enums.QualityOfReading.validated},
        {enums.QualityOfReading.questionable},
        {enums.QualityOfReading.questionable},
    ]
    assert [reading.value for reading in readings] == [1_000_000, 900_000, 400_000, 300_000]


def test_the_monthly_reading_type_says_watt_hours_per_calendar_month_with_no_default_length():
    kind = the_meter_reading(monthly_text([monthly(date(2026, 6, 1), "1")])).readingType

    assert kind.timeAttribute == enums.TimeAttributeType.monthly
    assert kind.intervalLength is None  # months have no one length; each reading states its own
    assert kind.uom == enums.UomType.wattHours
    assert kind.powerOfTenMultiplier == 0
    assert kind.accumulationBehaviour == enums.AccumulationBehaviourType.deltaData
    assert kind.flowDirection == enums.FlowDirectionType.forward
    assert kind.commodity == enums.CommodityType.electricity
    assert kind.kind == enums.KindType.energy


def test_months_are_blocked_by_calendar_year():
    figures = [monthly(date(2025, 11, 1), "1"), monthly(date(2025, 12, 1), "2"),
               monthly(date(2026, 2, 1), "3")]  # fmt: skip

    blocks = the_meter_reading(monthly_text(figures)).intervalBlocks

    assert [[r.value for r in block.intervalReadings] for block in blocks] == [[1000, 2000], [3000]]
    assert blocks[0].interval.start == local_midnight(date(2025, 11, 1))
    assert blocks[0].interval.duration == timedelta(days=61, hours=1)
    assert blocks[1].interval.start == local_midnight(date(2026, 2, 1))
    assert blocks[1].interval.duration == timedelta(days=28)


def test_months_out_of_order_or_not_on_the_1st_are_refused():
    with pytest.raises(ValueError, match="2026-01-01 after 2026-02-01"):
        monthly_text([monthly(date(2026, 2, 1), "1"), monthly(date(2026, 1, 1), "1")])
    with pytest.raises(ValueError, match="2026-01-02"):
        monthly_text([monthly(date(2026, 1, 2), "1")])


def test_empty_daily_and_monthly_feeds_are_valid_and_name_the_usage_point():
    for text in (daily_text([]), monthly_text([])):
        USAGE_XSD.validate(io.StringIO(text))
        assert list(the_meter_reading(text).intervalReadings) == []


def test_daily_and_monthly_feeds_are_deterministic_and_their_own_resources():
    days = daily(date(2026, 2, 25), 10)
    months = [monthly(date(2026, 2, 1), "1", source="billing"), monthly(date(2026, 3, 1), "2")]
    later = NOW + timedelta(days=3, seconds=7)

    for write, figures in ((daily_text, days), (monthly_text, months)):
        first, again, next_run = write(figures), write(figures), write(figures, now=later)
        assert first == again
        assert first.replace("2026-12-01T18:30:00Z", "NOW") == next_run.replace(
            "2026-12-04T18:30:07Z", "NOW"
        )
        ids = [element.text for element in xml_tree(first).iter(f"{ATOM}id")]
        assert all(atom_id.startswith("urn:uuid:") for atom_id in ids)
        assert len(ids) == len(set(ids))

    def ids_of(text):
        return {element.text for element in xml_tree(text).iter(f"{ATOM}id")}

    fifteen, by_day, by_month = (
        ids_of(feed_text([a_day(ORDINARY)])), ids_of(daily_text(days)), ids_of(monthly_text(months))
    )  # fmt: skip
    shared = fifteen & by_day
    assert shared == fifteen & by_month == by_day & by_month
    # Only the UsagePoint and LocalTimeParameters are the same resources: each kind of feed
    # has its own feed id, MeterReading, ReadingType and IntervalBlocks.
    assert len(shared) == 2
    assert ids_of(daily_text(days, esi_id="10443720009999999")) & by_day == {
        _local_time_id(daily_text(days))
    }


def _local_time_id(text):
    root = xml_tree(text)
    for entry in root.iterfind(f"{ATOM}entry"):
        if entry.find(f"{ATOM}content/{ESPI}LocalTimeParameters") is not None:
            return entry.findtext(f"{ATOM}id")
    raise AssertionError("no LocalTimeParameters")
