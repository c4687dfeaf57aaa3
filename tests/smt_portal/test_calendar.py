"""The business calendar: glossary examples, properties, DST weeks, words, terms."""

from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smt_portal.calendar import (
    CENTRAL,
    affirmation_deadline,
    configured_holidays,
    date_in_words,
    deadline_in_words,
    history_window_start,
    renewal_term_end,
    term_end,
)

CST = timedelta(hours=-6)
CDT = timedelta(hours=-5)

PROPERTY = settings(max_examples=300, deadline=None)

sent_moments = st.datetimes(
    min_value=datetime(2020, 1, 1),
    max_value=datetime(2035, 12, 31, 23, 59, 59),
    timezones=st.sampled_from([UTC, CENTRAL]),
)


def central(*args: int, fold: int = 0) -> datetime:
    return datetime(*args, tzinfo=CENTRAL, fold=fold)


def end_of(day: date) -> datetime:
    return datetime.combine(day, time.max, tzinfo=CENTRAL)


def business_days_between(after: date, through: date, holidays=frozenset()) -> int:
    """Weekdays (not holidays) in (after, through] — an oracle independent of the module."""
    return sum(
        1
        for n in range(1, (through - after).days + 1)
        if (d := after + timedelta(days=n)).weekday() < 5 and d not in holidays
    )


# --- glossary examples ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("sent_at", "valid_through"),
    [
        (central(2026, 11, 23, 9), date(2026, 11, 30)),
        (central(2026, 11, 27, 17), date(2026, 12, 4)),
        (central(2026, 11, 28, 12), date(2026, 12, 4)),
        (central(2026, 11, 29, 12), date(2026, 12, 4)),
        (central(2026, 3, 8, 12), date(2026, 3, 13)),
    ],
    ids=["monday", "friday", "saturday", "sunday", "dst-starts-sunday"],
)
def test_glossary_examples_are_valid_through_the_end_of_the_stated_day(sent_at, valid_through):
    deadline = affirmation_deadline(sent_at)
    assert deadline == end_of(valid_through)
    assert deadline.tzinfo == CENTRAL
    assert deadline.timetz() == time.max.replace(tzinfo=CENTRAL)


def test_the_sunday_dst_example_ends_in_central_daylight_time():
    deadline = affirmation_deadline(central(2026, 3, 8, 12))
    assert deadline.utcoffset() == CDT
    assert deadline.astimezone(UTC) == datetime(2026, 3, 14, 4, 59, 59, 999999, tzinfo=UTC)


def test_a_utc_moment_late_on_a_central_evening_counts_from_the_central_day():
    # 05:30 UTC Tuesday is 23:30 CST Monday.
    assert affirmation_deadline(datetime(2026, 11, 24, 5, 30, tzinfo=UTC)) == end_of(
        date(2026, 11, 30)
    )


def test_a_utc_moment_just_after_central_midnight_counts_from_the_next_day():
    # 06:30 UTC Tuesday is 00:30 CST Tuesday.
    assert affirmation_deadline(datetime(2026, 11, 24, 6, 30, tzinfo=UTC)) == end_of(
        date(2026, 12, 1)
    )


def test_the_first_and_last_instants_of_a_local_day_share_a_deadline():
    first = central(2026, 11, 23, 0, 0)
    last = central(2026, 11, 23, 23, 59, 59, 999999)
    assert affirmation_deadline(first) == affirmation_deadline(last) == end_of(date(2026, 11, 30))


# --- DST weeks -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sent_at", "valid_through", "offset"),
    [
        # March 2026: clocks spring forward Sunday 03-08 at 02:00.
        (central(2026, 3, 6, 16), date(2026, 3, 13), CDT),
        (central(2026, 3, 7, 23, 30), date(2026, 3, 13), CDT),
        (central(2026, 3, 8, 1, 59), date(2026, 3, 13), CDT),
        (central(2026, 3, 8, 3, 0), date(2026, 3, 13), CDT),
        (central(2026, 3, 2, 9), date(2026, 3, 9), CDT),
        # November 2026: clocks fall back Sunday 11-01 at 02:00; 01:30 happens twice.
        (central(2026, 10, 30, 16), date(2026, 11, 6), CST),
        (central(2026, 11, 1, 1, 30, fold=0), date(2026, 11, 6), CST),
        (central(2026, 11, 1, 1, 30, fold=1), date(2026, 11, 6), CST),
        (central(2026, 10, 26, 9), date(2026, 11, 2), CST),
    ],
)
def test_dst_weeks_end_at_local_midnight_with_the_offset_of_the_deadline_day(
    sent_at, valid_through, offset
):
    deadline = affirmation_deadline(sent_at)
    assert deadline == end_of(valid_through)
    assert deadline.utcoffset() == offset


# --- properties ------------------------------------------------------------------------


@PROPERTY
@given(sent_at=sent_moments)
def test_the_deadline_is_the_last_instant_of_a_central_weekday(sent_at):
    deadline = affirmation_deadline(sent_at)
    assert deadline.tzinfo == CENTRAL
    assert deadline.weekday() < 5
    assert deadline.time() == time.max
    # The offset is the zone's real offset on that day, not a stale one.
    assert deadline.utcoffset() == deadline.astimezone(UTC).astimezone(CENTRAL).utcoffset()


@PROPERTY
@given(sent_at=sent_moments)
def test_exactly_five_weekdays_follow_the_sending_day_up_to_the_deadline(sent_at):
    sent_day = sent_at.astimezone(CENTRAL).date()
    deadline = affirmation_deadline(sent_at)
    # The deadline day is itself a weekday, so "exactly five" also means "the first
    # day on which five have passed".
    assert business_days_between(sent_day, deadline.date()) == 5


@PROPERTY
@given(sent_at=sent_moments)
def test_the_deadline_is_after_the_moment_of_sending_by_five_to_nine_days(sent_at):
    deadline = affirmation_deadline(sent_at)
    assert deadline > sent_at
    assert 5 <= (deadline.date() - sent_at.astimezone(CENTRAL).date()).days <= 9


@PROPERTY
@given(sent_at=sent_moments)
def test_the_deadline_depends_only_on_the_instant_not_the_zone_it_is_given_in(sent_at):
    assert affirmation_deadline(sent_at.astimezone(UTC)) == affirmation_deadline(
        sent_at.astimezone(CENTRAL)
    )


@PROPERTY
@given(
    sent_at=sent_moments,
    holiday_offsets=st.frozensets(st.integers(min_value=0, max_value=20), max_size=8),
)
def test_configured_holidays_are_skipped_and_never_bring_the_deadline_earlier(
    sent_at, holiday_offsets
):
    sent_day = sent_at.astimezone(CENTRAL).date()
    holidays = frozenset(sent_day + timedelta(days=n) for n in holiday_offsets)
    deadline = affirmation_deadline(sent_at, holidays=holidays)
    assert deadline.date() not in holidays
    assert deadline.weekday() < 5
    assert deadline.time() == time.max
    assert business_days_between(sent_day, deadline.date(), holidays) == 5
    assert deadline >= affirmation_deadline(sent_at)


def test_thanksgiving_and_the_day_after_are_skipped_when_configured():
    holidays = frozenset({date(2026, 11, 26), date(2026, 11, 27)})
    deadline = affirmation_deadline(central(2026, 11, 23, 9), holidays=holidays)
    assert deadline == end_of(date(2026, 12, 2))


def test_a_holiday_on_the_sending_day_does_not_change_the_count():
    sent_at = central(2026, 11, 26, 9)
    holidays = frozenset({date(2026, 11, 26)})
    assert affirmation_deadline(sent_at, holidays=holidays) == affirmation_deadline(sent_at)


def test_without_a_holiday_calendar_holidays_count_as_weekdays():
    # Thanksgiving Thursday counts: Fri, Mon, Tue, Wed, Thu.
    assert affirmation_deadline(central(2026, 11, 25, 9)) == end_of(date(2026, 12, 2))


@pytest.mark.parametrize(
    "naive", [datetime(2026, 11, 23, 9), datetime(2026, 3, 8, 12)], ids=["nov", "dst"]
)
def test_a_naive_sending_moment_raises(naive):
    with pytest.raises(ValueError, match="aware"):
        affirmation_deadline(naive)


# --- configured holidays -----------------------------------------------------------------


def test_no_holiday_setting_means_no_holidays(db, settings):
    del settings.AFFIRMATION_HOLIDAYS
    assert configured_holidays() == frozenset()


def test_the_holiday_setting_is_read_as_iso_dates(db, settings):
    settings.AFFIRMATION_HOLIDAYS = ["2026-11-26", " 2026-12-25 ", date(2027, 1, 1)]
    assert configured_holidays() == frozenset(
        {date(2026, 11, 26), date(2026, 12, 25), date(2027, 1, 1)}
    )


@pytest.mark.parametrize("bad", ["2026-13-01", "next thursday", 20261126, datetime(2026, 1, 1)])
def test_a_malformed_holiday_setting_fails_loudly(db, settings, bad):
    settings.AFFIRMATION_HOLIDAYS = [bad]
    with pytest.raises(ValueError):
        configured_holidays()


# --- deadline in words -------------------------------------------------------------------

CST_DEADLINE = end_of(date(2026, 11, 30))
CDT_DEADLINE = end_of(date(2026, 3, 13))


@pytest.mark.parametrize(
    ("deadline", "language", "words"),
    [
        (
            CST_DEADLINE,
            "en",
            "11:59 p.m. Central Standard Time on Monday, November 30, 2026",
        ),
        (
            CST_DEADLINE,
            "es",
            "11:59 p. m., hora estándar del centro, el lunes 30 de noviembre de 2026",
        ),
        (
            CDT_DEADLINE,
            "en",
            "11:59 p.m. Central Daylight Time on Friday, March 13, 2026",
        ),
        (
            CDT_DEADLINE,
            "es",
            "11:59 p. m., hora de verano del centro, el viernes 13 de marzo de 2026",
        ),
    ],
    ids=["cst-en", "cst-es", "cdt-en", "cdt-es"],
)
def test_the_deadline_reads_in_words_in_the_customers_language(deadline, language, words):
    assert deadline_in_words(deadline, language) == words


def test_english_is_the_default_language():
    assert deadline_in_words(CST_DEADLINE) == deadline_in_words(CST_DEADLINE, "en")


def test_a_deadline_given_in_utc_is_described_in_central_time():
    assert deadline_in_words(CST_DEADLINE.astimezone(UTC), "en") == (
        "11:59 p.m. Central Standard Time on Monday, November 30, 2026"
    )


def test_a_regional_language_tag_uses_its_base_language():
    assert deadline_in_words(CST_DEADLINE, "es-MX") == deadline_in_words(CST_DEADLINE, "es")


@pytest.mark.parametrize(
    ("moment", "en", "es"),
    [
        (central(2026, 11, 30, 0, 5), "12:05 a.m.", "12:05 a. m."),
        (central(2026, 11, 30, 12, 0), "12:00 p.m.", "12:00 p. m."),
        (central(2026, 11, 30, 9, 7), "9:07 a.m.", "9:07 a. m."),
    ],
)
def test_midnight_noon_and_morning_read_on_a_twelve_hour_clock(moment, en, es):
    assert deadline_in_words(moment, "en").startswith(f"{en} ")
    assert deadline_in_words(moment, "es").startswith(f"{es}, ")


def test_an_unsupported_language_raises():
    with pytest.raises(ValueError, match="language"):
        deadline_in_words(CST_DEADLINE, "fr")


def test_a_naive_deadline_cannot_be_put_in_words():
    with pytest.raises(ValueError, match="aware"):
        deadline_in_words(datetime(2026, 11, 30, 23, 59))


# --- terms -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (central(2026, 1, 31, 10), 1, central(2026, 2, 28, 10)),
        (central(2028, 1, 31, 10), 1, central(2028, 2, 29, 10)),
        (central(2026, 3, 31, 10), 1, central(2026, 4, 30, 10)),
        (central(2026, 8, 31, 10), 6, central(2027, 2, 28, 10)),
        (central(2026, 11, 15, 8), 2, central(2027, 1, 15, 8)),
        (central(2026, 12, 31, 23, 30), 12, central(2027, 12, 31, 23, 30)),
        (central(2026, 5, 10, 9), 36, central(2029, 5, 10, 9)),
    ],
    ids=[
        "jan31-feb28",
        "jan31-feb29-leap",
        "mar31-apr30",
        "aug31-feb28",
        "year-wrap",
        "12m",
        "36m",
    ],
)
def test_a_term_ends_at_the_same_wall_time_months_later_clamped_to_month_end(
    start, months, expected
):
    end = term_end(start, months)
    assert end == expected
    assert (end.year, end.month, end.day, end.hour, end.minute) == (
        expected.year,
        expected.month,
        expected.day,
        expected.hour,
        expected.minute,
    )
    assert end.tzinfo == CENTRAL


def test_a_twelve_month_term_keeps_the_local_wall_time_across_dst():
    # Starts in CDT, passes through CST, ends in CDT; and the reverse.
    summer = term_end(central(2026, 7, 4, 14, 15), 12)
    assert (summer.date(), summer.time(), summer.utcoffset()) == (
        date(2027, 7, 4),
        time(14, 15),
        CDT,
    )
    winter = term_end(central(2026, 1, 15, 14, 15), 12)
    assert (winter.date(), winter.time(), winter.utcoffset()) == (
        date(2027, 1, 15),
        time(14, 15),
        CST,
    )


def test_a_term_starting_in_cst_and_ending_in_cdt_keeps_the_wall_time_not_the_duration():
    end = term_end(central(2026, 2, 10, 9), 1)
    assert end.time() == time(9) and end.utcoffset() == CDT
    # Subtract in UTC: same-zone subtraction in Python ignores the offset change.
    elapsed = end.astimezone(UTC) - central(2026, 2, 10, 9).astimezone(UTC)
    assert elapsed == timedelta(days=28, hours=-1)


def test_a_term_start_given_in_utc_is_read_in_central_time():
    # 2026-02-01 03:00 UTC is 2026-01-31 21:00 CST, so January 31 is clamped.
    end = term_end(datetime(2026, 2, 1, 3, 0, tzinfo=UTC), 1)
    assert end == central(2026, 2, 28, 21)


def test_a_wall_time_in_the_spring_forward_gap_moves_an_hour_later():
    # 2027-03-14 02:30 does not exist in Chicago; fold=0 reads it as CST, i.e. 03:30 CDT.
    end = term_end(central(2026, 3, 14, 2, 30), 12)
    assert (end.date(), end.time(), end.utcoffset()) == (date(2027, 3, 14), time(3, 30), CDT)


def test_an_ambiguous_fall_back_wall_time_means_its_first_occurrence():
    # 2027-11-07 01:30 happens twice (clocks fall back that day); the end is the first, CDT.
    end = term_end(central(2026, 11, 7, 1, 30), 12)
    assert (end.date(), end.time(), end.utcoffset(), end.fold) == (
        date(2027, 11, 7),
        time(1, 30),
        CDT,
        0,
    )


def test_an_ambiguous_end_is_the_first_occurrence_even_from_a_second_occurrence_start():
    # Both 2021-11-07 and 2027-11-07 are fall-back Sundays. The start is the second
    # 01:30 (CST); fold=0 semantics still pick the first 01:30 (CDT) for the end.
    end = term_end(central(2021, 11, 7, 1, 30, fold=1), 72)
    assert (end.date(), end.time(), end.utcoffset(), end.fold) == (
        date(2027, 11, 7),
        time(1, 30),
        CDT,
        0,
    )


def test_a_start_at_the_second_occurrence_of_an_hour_keeps_its_wall_time():
    # 2026-11-01 01:30 CST (the second 01:30) ends at 01:30 on 2026-12-01, plain CST.
    end = term_end(central(2026, 11, 1, 1, 30, fold=1), 1)
    assert (end.date(), end.time(), end.utcoffset()) == (date(2026, 12, 1), time(1, 30), CST)


@PROPERTY
@given(
    start=st.datetimes(
        min_value=datetime(2020, 1, 1),
        max_value=datetime(2035, 12, 31),
        timezones=st.sampled_from([UTC, CENTRAL]),
    ),
    months=st.integers(min_value=1, max_value=36),
)
def test_a_term_ends_months_later_on_the_clamped_day_after_it_starts(start, months):
    local = start.astimezone(CENTRAL)
    end = term_end(start, months)
    assert end > start
    assert (end.year * 12 + end.month) - (local.year * 12 + local.month) == months
    assert end.day == local.day or (end.day < local.day and (end + timedelta(days=1)).day == 1)
    assert end.tzinfo == CENTRAL


@pytest.mark.parametrize("months", [0, -1])
def test_a_term_of_less_than_one_month_raises(months):
    with pytest.raises(ValueError, match="at least 1"):
        term_end(central(2026, 1, 1, 9), months)


def test_a_naive_term_start_raises():
    with pytest.raises(ValueError, match="aware"):
        term_end(datetime(2026, 1, 1, 9), 12)


@pytest.mark.parametrize(
    ("current_end", "months", "expected"),
    [
        (central(2027, 1, 15, 9), 12, central(2028, 1, 15, 9)),
        (central(2026, 2, 28, 10), 1, central(2026, 3, 28, 10)),
        (central(2026, 6, 30, 18), 3, central(2026, 9, 30, 18)),
    ],
)
def test_a_renewal_adds_exactly_the_original_term_from_the_current_end(
    current_end, months, expected
):
    assert renewal_term_end(current_end, months) == expected


def test_a_renewal_of_less_than_one_month_raises():
    with pytest.raises(ValueError):
        renewal_term_end(central(2027, 1, 15, 9), 0)


# --- The history window (glossary, "Data window") -----------------------------------------


@pytest.mark.parametrize(
    ("affirmed_at", "months", "expected"),
    [
        (central(2026, 12, 1, 9), 12, date(2025, 12, 1)),
        (central(2026, 3, 31, 9), 1, date(2026, 2, 28)),  # clamped to the month's end
        (central(2028, 3, 31, 9), 1, date(2028, 2, 29)),  # a leap year
        (central(2026, 1, 15, 9), 24, date(2024, 1, 15)),
        (central(2026, 5, 31, 9), 3, date(2026, 2, 28)),
    ],
)
def test_the_history_window_starts_the_same_day_that_many_months_before(
    affirmed_at, months, expected
):
    assert history_window_start(affirmed_at, months) == expected


def test_the_history_window_counts_from_the_central_date_not_the_utc_one():
    # 11 p.m. Central on 31 March is already 1 April in UTC.
    late = datetime(2026, 4, 1, 4, 0, tzinfo=UTC)
    assert history_window_start(late, 1) == date(2026, 2, 28)


@pytest.mark.parametrize("months", [0, 25, -1])
def test_a_history_window_outside_1_to_24_months_raises(months):
    with pytest.raises(ValueError):
        history_window_start(central(2026, 12, 1, 9), months)


def test_a_naive_affirmation_moment_raises():
    with pytest.raises(ValueError):
        history_window_start(datetime(2026, 12, 1, 9), 12)


def test_a_day_in_words_in_english_and_spanish():
    assert date_in_words(date(2025, 12, 1), "en") == "1 December 2025"
    assert date_in_words(date(2025, 12, 1), "es") == "1 de diciembre de 2025"


def test_a_registered_holiday_source_joins_the_setting_and_is_asked_on_every_call(
    db, settings, monkeypatch
):
    from smt_portal import calendar as business_calendar

    settings.AFFIRMATION_HOLIDAYS = ["2026-11-26"]
    staff_days = {date(2026, 11, 27)}
    monkeypatch.setattr(business_calendar, "_holiday_sources", [])
    business_calendar.holiday_source_register(lambda: staff_days)

    assert configured_holidays() == frozenset({date(2026, 11, 26), date(2026, 11, 27)})
    staff_days.add(date(2026, 12, 24))
    assert date(2026, 12, 24) in configured_holidays()
