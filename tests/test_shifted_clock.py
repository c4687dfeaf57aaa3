"""The shifted clock that CI runs the time-sensitive tests on."""

from datetime import date, datetime, timedelta

from django.utils import timezone

from smt_portal.calendar import CENTRAL
from tests.shifted_clock import friday_before_a_dst_change, real_today, shifted_moment


def test_the_friday_before_spring_forward_is_found():
    friday = friday_before_a_dst_change(after=date(2026, 12, 1))
    assert friday == datetime(2027, 3, 12, 16, 30, tzinfo=CENTRAL)


def test_the_friday_before_fall_back_is_found():
    friday = friday_before_a_dst_change(after=date(2027, 3, 15))
    assert friday == datetime(2027, 11, 5, 16, 30, tzinfo=CENTRAL)


def test_a_day_after_the_friday_looks_for_the_next_change():
    assert friday_before_a_dst_change(after=date(2027, 3, 13)).date() == date(2027, 11, 5)


def test_the_friday_itself_counts():
    assert friday_before_a_dst_change(after=date(2027, 11, 5)).date() == date(2027, 11, 5)


def test_the_dst_friday_is_over_a_year_ahead_and_a_friday():
    moment = shifted_moment("dst-friday")
    assert moment.weekday() == 4
    assert (moment.date() - real_today()).days >= 365


def test_a_run_on_a_shifted_clock_sees_it(pytestconfig):
    moment = shifted_moment(pytestconfig.getoption("--shifted-clock"))
    if moment is None:
        # In one zone: the dates of UTC and Central differ six hours every night.
        assert timezone.now().astimezone(CENTRAL).date() == real_today()
    else:
        assert timezone.now() - moment < timedelta(hours=2), "the clock ticks from the moment"
