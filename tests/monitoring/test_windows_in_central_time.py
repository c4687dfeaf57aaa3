"""Detector windows are Central days, as staff read them, across DST changes."""

from datetime import datetime, timedelta

import pytest
import time_machine

from monitoring.detectors import Window
from smt_portal.calendar import CENTRAL
from tests.factories import make_csp
from tests.monitoring.conftest import decide, make_agreement, run_detectors

DAY, WEEK, HOUR = timedelta(days=1), timedelta(days=7), timedelta(hours=1)


def central(*args):
    return datetime(*args, tzinfo=CENTRAL)


def test_a_day_window_runs_from_central_midnight_to_central_midnight():
    window = Window.containing(central(2026, 11, 23, 12), DAY)
    assert (window.start, window.end) == (central(2026, 11, 23), central(2026, 11, 24))


def test_a_late_evening_in_central_time_belongs_to_that_central_day():
    # 23:30 CST is 05:30 UTC the next day: a UTC window would put it on the 24th.
    window = Window.containing(central(2026, 11, 23, 23, 30), DAY)
    assert window.start == central(2026, 11, 23)


@pytest.mark.parametrize(
    "moment, hours",
    [(central(2026, 3, 8, 12), 23), (central(2026, 11, 1, 12), 25), (central(2026, 11, 2, 12), 24)],
    ids=["spring-forward", "fall-back", "ordinary"],
)
def test_the_day_of_a_dst_change_is_one_window_of_23_or_25_hours(moment, hours):
    window = Window.containing(moment, DAY)
    assert window.start == central(moment.year, moment.month, moment.day)
    assert window.end - window.start == timedelta(hours=hours)
    assert window.previous().end == window.start
    day_before = moment.date() - DAY
    assert window.previous().start == central(day_before.year, day_before.month, day_before.day)


def test_a_week_window_starts_on_a_central_monday_even_in_a_dst_week():
    window = Window.containing(central(2026, 3, 8, 9), WEEK)  # Sunday of spring forward
    assert (window.start, window.end) == (central(2026, 3, 2), central(2026, 3, 9))
    assert window.start.astimezone(CENTRAL).weekday() == 0
    assert window.previous() == Window(central(2026, 2, 23), central(2026, 3, 2))


def test_windows_shorter_than_a_day_start_at_central_midnight_and_never_cross_the_next():
    window = Window.containing(central(2026, 3, 8, 3, 30), HOUR)  # 03:30 CDT
    assert (window.start, window.end) == (central(2026, 3, 8, 3), central(2026, 3, 8, 4))
    # The hour before 03:00 CDT is 01:00 CST: 02:00 never happened.
    assert window.previous().start == central(2026, 3, 8, 1)
    five_hours = timedelta(hours=5)
    last = Window.containing(central(2026, 11, 23, 23), five_hours)
    assert (last.start, last.end) == (central(2026, 11, 23, 20), central(2026, 11, 24))
    assert Window.containing(central(2026, 11, 24, 0, 30), five_hours).start == last.end


@pytest.mark.django_db
def test_a_flag_of_an_evening_after_the_fall_back_names_that_central_day():
    """With the clock frozen on Monday 2 November 2026, one hour after Central
    midnight, ten opt-ins from one address on Sunday evening (Central) raise a
    flag whose window is Sunday: 25 hours, from 00:00 CDT to 00:00 CST."""
    csp = make_csp(legal_name="Bright Advice LLC")
    now = central(2026, 11, 2, 1)
    with time_machine.travel(now, tick=False):
        for i in range(10):
            sent = central(2026, 11, 1, 20) + timedelta(minutes=i)
            agreement = make_agreement(csp, email=f"c{i}@example.com", sent_at=sent)
            decide(agreement, at=sent + timedelta(minutes=5))
        [flag] = run_detectors("mass_affirmation_one_source", now=now)
    assert flag.window_start == central(2026, 11, 1)
    assert flag.window_end == central(2026, 11, 2)
    assert flag.window_end - flag.window_start == timedelta(hours=25)


def test_an_attempt_and_a_detector_run_name_their_time_in_central():
    from datetime import UTC

    from monitoring.models import DetectorRun, PremiseAuthenticationAttempt

    moment = datetime(2026, 11, 24, 3, 15, tzinfo=UTC)  # 21:15 CST on the 23rd
    attempt = PremiseAuthenticationAttempt(esi_id="1008901", authenticated=True, created_at=moment)
    run = DetectorRun(detector="rejections", ok=True, finished_at=moment)
    assert str(attempt) == "1008901 authenticated at 2026-11-23 21:15:00 CST"
    assert str(run) == "rejections: ok at 2026-11-23 21:15:00 CST"
