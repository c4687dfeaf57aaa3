"""Daily and monthly usage: summed from the 15-minute data where it exists, the
monthly billing usage where it does not, each figure saying which."""

import csv
import io
import json
from datetime import date, timedelta
from decimal import Decimal

import pytest

from premises.intervals import intervals_in_day
from tests.factories import make_usage

from .conftest import (
    SPRING_FORWARD,
    TODAY,
    WINDOW_FIRST,
    body_of,
    day_values,
    opted_in,
    read,
    store_days,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen")]

# Intervals for the whole of March 2026 and October 1-10; billing for Jan-Oct 2026.
MARCH = date(2026, 3, 1)
OCTOBER = date(2026, 10, 1)


@pytest.fixture
def shared(tmp_path, active_csp, disclosure, home):
    agreement = opted_in(active_csp, home, disclosure=disclosure)
    store_days(tmp_path, home, MARCH, date(2026, 3, 31), estimated=())
    store_days(tmp_path, home, OCTOBER, date(2026, 10, 10), name="october.csv")
    make_usage(premise=home, monthly_kwh={date(2026, m, 1): 900 + m for m in range(1, 11)})
    return agreement, home


def day_kwh(day):
    return Decimal(sum(day_values(day))).scaleb(-3)


def test_daily_usage_sums_each_days_intervals(csp_api, shared):
    agreement, home = shared
    response = read(csp_api, agreement, "daily-usage", esi_id=home.esi_id,
                    start=date(2026, 3, 7), end=date(2026, 3, 9))  # fmt: skip
    body = json.loads(body_of(response), parse_float=Decimal)
    assert [(d["date"], d["kwh"], d["intervals"], d["source"]) for d in body["days"]] == [
        (str(day), day_kwh(day), intervals_in_day(day), "intervals")
        for day in (date(2026, 3, 7), SPRING_FORWARD, date(2026, 3, 9))
    ]
    assert {d["estimated"] for d in body["days"]} == {False}
    october = json.loads(body_of(read(csp_api, agreement, "daily-usage", esi_id=home.esi_id,
                                      start=OCTOBER, end=OCTOBER)))  # fmt: skip
    assert october["days"][0]["estimated"] is True  # one of its intervals was


def test_monthly_usage_says_where_each_figure_comes_from(csp_api, shared):
    agreement, home = shared
    response = read(csp_api, agreement, "monthly-usage", esi_id=home.esi_id,
                    start=date(2026, 2, 1), end=date(2026, 10, 31))  # fmt: skip
    months = {m["month"]: m for m in json.loads(body_of(response), parse_float=Decimal)["months"]}

    march_kwh = sum(day_kwh(date(2026, 3, d)) for d in range(1, 32))
    assert (months["2026-03"]["source"], months["2026-03"]["kwh"]) == ("intervals", march_kwh)
    assert months["2026-03"]["complete"] is True and months["2026-03"]["days"] == 31
    assert (months["2026-02"]["source"], months["2026-02"]["kwh"]) == (
        "billing",
        Decimal("902.000"),
    )
    # October: ten days of intervals, but the month's bill is whole: the bill.
    assert (months["2026-10"]["source"], months["2026-10"]["kwh"]) == (
        "billing",
        Decimal("910.000"),
    )
    assert list(months) == [f"2026-{m:02d}" for m in range(2, 11)]


def test_a_month_cut_by_the_range_uses_its_intervals_marked_incomplete(csp_api, shared):
    agreement, home = shared
    response = read(csp_api, agreement, "monthly-usage", esi_id=home.esi_id,
                    start=date(2026, 10, 5), end=date(2026, 10, 20))  # fmt: skip
    [october] = json.loads(body_of(response), parse_float=Decimal)["months"]
    # The bill would say something about days outside the range: not served.
    assert (october["source"], october["complete"], october["days"]) == ("intervals", False, 6)
    assert october["kwh"] == sum(day_kwh(date(2026, 10, d)) for d in range(5, 11))


def test_a_month_cut_by_the_range_is_never_called_complete(csp_api, shared):
    agreement, home = shared
    response = read(csp_api, agreement, "monthly-usage", esi_id=home.esi_id,
                    start=MARCH, end=date(2026, 3, 15))  # fmt: skip
    [march] = json.loads(body_of(response), parse_float=Decimal)["months"]
    assert (march["source"], march["complete"], march["days"]) == ("intervals", False, 15)


def test_daily_and_monthly_csv(csp_api, shared):
    agreement, home = shared
    daily = body_of(read(csp_api, agreement, "daily-usage", esi_id=home.esi_id,
                         start=SPRING_FORWARD, end=SPRING_FORWARD, format="csv"))  # fmt: skip
    rows = list(csv.reader(io.StringIO(daily)))
    assert rows[0] == ["ESIID", "USAGE_DATE", "USAGE_KWH", "ESTIMATED_ACTUAL", "INTERVALS",
                       "SOURCE"]  # fmt: skip
    assert rows[1] == [home.esi_id, "03/08/2026", str(day_kwh(SPRING_FORWARD)), "A", "92",
                       "intervals"]  # fmt: skip
    february, march_end = date(2026, 2, 1), date(2026, 3, 31)
    monthly = body_of(read(csp_api, agreement, "monthly-usage", esi_id=home.esi_id,
                           start=february, end=march_end, format="csv"))  # fmt: skip
    rows = list(csv.reader(io.StringIO(monthly)))
    assert [row[1:4] for row in rows[1:]] == [["02/2026", "902.000", "billing"],
                                              ["03/2026", str(sum(day_kwh(date(2026, 3, d))
                                                                  for d in range(1, 32))),
                                               "intervals"]]  # fmt: skip


@pytest.mark.parametrize("kind", ["daily-usage", "monthly-usage"])
def test_daily_and_monthly_green_button_feeds_are_valid_espi(csp_api, shared, kind):
    from tests.premises.test_espi import USAGE_XSD, read_back, resources

    agreement, home = shared
    response = read(csp_api, agreement, kind, esi_id=home.esi_id, start=date(2026, 2, 1),
                    end=date(2026, 10, 31), format="espi")  # fmt: skip
    assert response["Content-Type"] == "application/atom+xml"
    text = body_of(response)
    for resource in resources(text):
        USAGE_XSD.validate(resource)
    (usage_point,) = read_back(text)
    (reading,) = usage_point.meterReadings
    values = [r.value for r in reading.intervalReadings]
    if kind == "daily-usage":
        assert len(values) == 31 + 10 and values[7] == sum(day_values(SPRING_FORWARD))
    else:
        assert len(values) == 9 and values[0] == 902_000


def test_the_year_of_daily_usage_in_one_request(csp_api, tmp_path, active_csp, disclosure):
    from .conftest import residential

    home = residential()
    agreement = opted_in(active_csp, home, disclosure=disclosure)
    store_days(tmp_path, home, WINDOW_FIRST, TODAY)
    body = json.loads(body_of(read(csp_api, agreement, "daily-usage", esi_id=home.esi_id,
                                   start=WINDOW_FIRST, end=TODAY)))  # fmt: skip
    assert len(body["days"]) == 366
    assert body["days"][-1]["date"] == str(TODAY) and TODAY - timedelta(days=365) == WINDOW_FIRST
