"""GET /api/v1/agreements/{id}/interval-data/: a year of 15-minute data in three
formats, under the data window, streamed, revalidated and logged."""

import csv
import io
import json
from datetime import timedelta

import pytest
from django.core.signals import request_finished
from django.db import close_old_connections, connection
from django.test.utils import CaptureQueriesContext

from data_access.models import DataAccessLog
from premises.interval_feed import INTERVAL_COLUMNS
from premises.intervals import intervals_in_day
from premises.models import IntervalDay

from .conftest import (
    FALL_BACK,
    SPRING_FORWARD,
    TODAY,
    WINDOW_FIRST,
    body_of,
    day_values,
    opted_in,
    read,
    store_days,
    store_days_directly,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen")]


@pytest.fixture
def year(tmp_path, active_csp, disclosure, home):
    """An agreement affirmed now, and its premise's whole data window stored."""
    agreement = opted_in(active_csp, home, disclosure=disclosure)
    store_days_directly(home, WINDOW_FIRST, TODAY)
    return agreement, home


def test_a_csp_reads_its_customers_year_as_json_one_array_per_day(csp_api, year):
    agreement, home = year

    response = read(csp_api, agreement, esi_id=home.esi_id, start=WINDOW_FIRST, end=TODAY)

    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "application/json"
    body = json.loads(body_of(response))
    assert (body["esi_id"], body["timezone"], body["unit"]) == (
        home.esi_id, "America/Chicago", "kWh",
    )  # fmt: skip
    assert len(body["days"]) == (TODAY - WINDOW_FIRST).days + 1 == 366
    by_date = {day["date"]: day for day in body["days"]}
    assert len(by_date[str(SPRING_FORWARD)]["kwh"]) == 92
    assert len(by_date[str(FALL_BACK)]["kwh"]) == 100
    first = by_date[str(WINDOW_FIRST)]
    assert first["kwh"][:2] == [round(v / 1000, 3) for v in day_values(WINDOW_FIRST)[:2]]
    assert first["estimated"] == [5]
    assert "surplus_kwh" not in first


def test_json_numbers_are_the_stored_watt_hours_exactly(csp_api, year):
    agreement, home = year
    response = read(csp_api, agreement, esi_id=home.esi_id, start=SPRING_FORWARD,
                    end=SPRING_FORWARD)  # fmt: skip
    text = body_of(response)
    [day] = json.loads(text, parse_float=str)["days"]
    assert day["kwh"] == [f"{wh // 1000}.{wh % 1000:03d}" for wh in day_values(SPRING_FORWARD)]


def test_surplus_generation_is_a_separate_array(tmp_path, csp_api, active_csp, disclosure, home):
    agreement = opted_in(active_csp, home, disclosure=disclosure)
    store_days(tmp_path, home, TODAY - timedelta(days=1), TODAY, surplus=True)

    body = json.loads(body_of(read(csp_api, agreement, esi_id=home.esi_id,
                                   start=TODAY - timedelta(days=1), end=TODAY)))  # fmt: skip

    assert [day["surplus_kwh"][:2] for day in body["days"]] == [[0.007, 0.007]] * 2


def test_the_csv_is_smt_interval_csv_that_import_intervals_reads_back(tmp_path, csp_api, year):
    agreement, home = year
    before = list(IntervalDay.objects.filter(premise=home).order_by("day")
                  .values_list("day", "wh", "estimated", "revision_at"))  # fmt: skip

    response = read(csp_api, agreement, esi_id=home.esi_id, start=WINDOW_FIRST, end=TODAY,
                    format="csv")  # fmt: skip

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in response["Content-Disposition"]
    text = body_of(response)
    rows = list(csv.reader(io.StringIO(text)))
    assert tuple(rows[0]) == INTERVAL_COLUMNS
    assert len(rows) - 1 == sum(
        intervals_in_day(WINDOW_FIRST + timedelta(days=n)) for n in range(366)
    )
    IntervalDay.objects.filter(premise=home).delete()
    (tmp_path / "read.csv").write_text(text)
    from django.core.management import call_command

    call_command("import_intervals", str(tmp_path / "read.csv"), "--no-progress")
    after = list(IntervalDay.objects.filter(premise=home).order_by("day")
                 .values_list("day", "wh", "estimated", "revision_at"))  # fmt: skip
    assert [(d, bytes(w), bytes(e), r) for d, w, e, r in after] == [
        (d, bytes(w), bytes(e), r) for d, w, e, r in before
    ]


def test_accept_chooses_the_format_when_no_format_parameter_is_given(csp_api, year):
    agreement, home = year
    response = read(csp_api, agreement, esi_id=home.esi_id, start=TODAY, end=TODAY,
                    HTTP_ACCEPT="text/csv")  # fmt: skip
    assert response["Content-Type"].startswith("text/csv")
    refused = read(csp_api, agreement, esi_id=home.esi_id, start=TODAY, end=TODAY,
                   HTTP_ACCEPT="image/png")  # fmt: skip
    assert refused.status_code == 406
    assert refused.json()["error"]["code"] == "not_acceptable"


def test_days_without_data_are_left_out(tmp_path, csp_api, active_csp, disclosure, home):
    agreement = opted_in(active_csp, home, disclosure=disclosure)
    store_days(tmp_path, home, TODAY, TODAY)
    body = json.loads(body_of(read(csp_api, agreement, esi_id=home.esi_id,
                                   start=TODAY - timedelta(days=3), end=TODAY)))  # fmt: skip
    assert [day["date"] for day in body["days"]] == [str(TODAY)]


def test_a_read_costs_the_same_queries_for_a_week_or_a_year(csp_api, year):
    agreement, home = year

    def queries(start):
        with CaptureQueriesContext(connection) as captured:
            body_of(read(csp_api, agreement, esi_id=home.esi_id, start=start, end=TODAY))
        return len(captured)

    queries(TODAY)  # the key's first use of the day is recorded once
    # Key, gate, premise link, the days, the log row (in a savepoint), the request log.
    assert queries(TODAY - timedelta(days=6)) == queries(WINDOW_FIRST) <= 8


def test_an_unchanged_range_answers_304_to_its_etag_and_a_revision_changes_it(
    tmp_path, csp_api, year
):
    agreement, home = year
    start, end = TODAY - timedelta(days=30), TODAY - timedelta(days=20)
    first = read(csp_api, agreement, esi_id=home.esi_id, start=start, end=end)
    body_of(first)
    etag = first["ETag"]
    assert first["Cache-Control"] == "private, no-cache"

    again = read(csp_api, agreement, esi_id=home.esi_id, start=start, end=end,
                 HTTP_IF_NONE_MATCH=etag)  # fmt: skip
    assert again.status_code == 304
    assert again.content == b""
    as_csv = read(csp_api, agreement, esi_id=home.esi_id, start=start, end=end, format="csv",
                  HTTP_IF_NONE_MATCH=etag)  # fmt: skip
    assert as_csv.status_code == 200  # another format is another answer
    body_of(as_csv)

    store_days(tmp_path, home, end, end, base=500, revision=_later(end), name="rev.csv")
    revised = read(csp_api, agreement, esi_id=home.esi_id, start=start, end=end,
                   HTTP_IF_NONE_MATCH=etag)  # fmt: skip
    assert revised.status_code == 200
    assert revised["ETag"] != etag
    last_day = json.loads(body_of(revised))["days"][-1]
    assert last_day["kwh"][0] == (500 + end.timetuple().tm_yday) / 1000
    logged = list(DataAccessLog.objects.order_by("id").values_list("status_code", "etag"))
    assert logged[1] == (304, etag.strip('"'))
    assert logged[-1][1] == revised["ETag"].strip('"')


def _later(day):
    from datetime import datetime

    from smt_portal.calendar import CENTRAL

    return datetime(day.year, day.month, day.day, tzinfo=CENTRAL) + timedelta(days=2)


def test_every_served_read_is_logged_with_who_what_and_how_much(csp_api, active_csp, year):
    agreement, home = year

    response = read(csp_api, agreement, esi_id=home.esi_id, start=SPRING_FORWARD,
                    end=SPRING_FORWARD + timedelta(days=1), format="csv",
                    REMOTE_ADDR="203.0.113.40")  # fmt: skip
    assert DataAccessLog.objects.count() == 0  # written once the body is
    body_of(response)

    log = DataAccessLog.objects.get()
    assert (log.csp_id, log.agreement_id, log.premise_id, log.esi_id) == (
        active_csp.pk, agreement.pk, home.pk, home.esi_id,
    )  # fmt: skip
    assert (log.kind, log.format, log.start, log.end) == (
        "intervals", "csv", SPRING_FORWARD, SPRING_FORWARD + timedelta(days=1),
    )  # fmt: skip
    assert (log.status_code, log.days, log.intervals, log.completed) == (200, 2, 92 + 96, True)
    assert log.key_prefix and log.key_prefix in csp_api._credentials["HTTP_AUTHORIZATION"]
    assert log.ip == "203.0.113.40"
    assert log.revision_latest is not None and log.etag


def test_a_client_that_goes_away_mid_body_is_logged_as_incomplete(csp_api, year):
    from django.test import RequestFactory

    from data_access.api.views import IntervalDataView

    agreement, home = year
    # The view as the WSGI server sees it (the test client would wrap the body).
    request = RequestFactory().get(
        f"/api/v1/agreements/{agreement.pk}/interval-data/",
        {"esi_id": home.esi_id, "start": str(WINDOW_FIRST), "end": str(TODAY)},
        HTTP_AUTHORIZATION=csp_api._credentials["HTTP_AUTHORIZATION"],
    )
    response = IntervalDataView.as_view()(request, agreement_id=agreement.pk)
    chunks = iter(response)
    next(chunks), next(chunks)  # the head, then the first days
    # The socket closed: the server closes the response (request_finished would
    # also close the test's database connection; the test client avoids it too).
    request_finished.disconnect(close_old_connections)
    try:
        response.close()
    finally:
        request_finished.connect(close_old_connections)

    log = DataAccessLog.objects.get()
    assert log.completed is False
    assert 0 < log.days < 366


def test_green_button_gives_the_year_as_a_valid_espi_feed_an_independent_reader_reads(
    csp_api, year
):
    from datetime import UTC

    from greenbutton_objects import enums

    from premises.intervals import interval_start
    from tests.premises.test_espi import USAGE_XSD, read_back, resources

    agreement, home = year
    response = read(csp_api, agreement, esi_id=home.esi_id, start=WINDOW_FIRST, end=TODAY,
                    format="espi")  # fmt: skip

    assert response["Content-Type"] == "application/atom+xml"
    text = body_of(response)
    found = resources(text)
    blocks = [r for r in found if r.tag.endswith("IntervalBlock")]
    assert len(blocks) == 366
    # Every other resource, and the blocks of the first, the last and both DST
    # days, against the schema (all 366 blocks come from the same code, and the
    # reader below reads every value of every one).
    spring, fall = ((day - WINDOW_FIRST).days for day in (SPRING_FORWARD, FALL_BACK))
    for resource in [*(r for r in found if r not in blocks),
                     *(blocks[i] for i in (0, spring, fall, -1))]:  # fmt: skip
        USAGE_XSD.validate(resource)
    (usage_point,) = read_back(text)
    (consumption,) = [
        reading for reading in usage_point.meterReadings
        if reading.readingType.flowDirection == enums.FlowDirectionType.forward
    ]  # fmt: skip
    readings = list(consumption.intervalReadings)
    assert len(readings) == sum(
        intervals_in_day(WINDOW_FIRST + timedelta(days=n)) for n in range(366)
    )
    spring = [r for r in readings if r.timePeriod.start >= interval_start(SPRING_FORWARD, 0)]
    assert spring[0].timePeriod.start == interval_start(SPRING_FORWARD, 0).astimezone(UTC)
    assert [r.value for r in spring[:92]] == day_values(SPRING_FORWARD)
    log = DataAccessLog.objects.get()
    assert (log.format, log.days, log.status_code) == ("espi", 366, 200)
