"""The large-commercial rule (glossary, R11) and the term limits it implies."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from premises.models import CustomerClass, TermPolicy
from premises.services import (
    max_term_months_for,
    premise_is_large_commercial,
    premises_large_commercial,
    term_limit_months,
    usage_window,
)
from smt_portal.calendar import CENTRAL
from tests.factories import make_premise

pytestmark = pytest.mark.django_db

# Mid-November 2026, Central time: the window is November 2025 to October 2026.
NOW = datetime(2026, 11, 15, 12, 0, tzinfo=CENTRAL)
COMMERCIAL = CustomerClass.COMMERCIAL
RESIDENTIAL = CustomerClass.RESIDENTIAL


def small_year():
    """Every month of the window at 3,000 kWh."""
    months = {date(2025, 11, 1): 3000, date(2025, 12, 1): 3000}
    months.update({date(2026, m, 1): 3000 for m in range(1, 11)})
    return months


def is_large(premise, now=NOW, policy=None):
    return premise_is_large_commercial(premise=premise, now=now, policy=policy)


def test_usage_window_is_the_twelve_months_before_the_local_month():
    assert usage_window(now=NOW) == (date(2025, 11, 1), date(2026, 11, 1))


def test_usage_window_uses_the_central_month_not_the_utc_month():
    # 03:00 UTC on 1 December is still 30 November in Texas.
    assert usage_window(now=datetime(2026, 12, 1, 3, 0, tzinfo=UTC)) == (
        date(2025, 11, 1),
        date(2026, 11, 1),
    )
    assert usage_window(now=datetime(2026, 12, 1, 6, 30, tzinfo=UTC)) == (
        date(2025, 12, 1),
        date(2026, 12, 1),
    )


def test_usage_window_refuses_a_naive_now():
    with pytest.raises(ValueError):
        usage_window(now=datetime(2026, 11, 15, 12, 0))


def test_commercial_premise_with_a_month_at_exactly_15000_kwh_is_large():
    premise = make_premise(
        customer_class=COMMERCIAL, monthly_kwh=small_year() | {date(2026, 7, 1): 15000}
    )
    assert is_large(premise)


def test_commercial_premise_peaking_at_14999_kwh_is_not_large():
    premise = make_premise(
        customer_class=COMMERCIAL, monthly_kwh=small_year() | {date(2026, 7, 1): 14999}
    )
    assert not is_large(premise)


def test_a_fraction_of_a_kwh_below_the_threshold_is_not_large():
    premise = make_premise(
        customer_class=COMMERCIAL, monthly_kwh={date(2026, 7, 1): Decimal("14999.999")}
    )
    assert not is_large(premise)


def test_residential_premise_at_20000_kwh_is_not_large():
    premise = make_premise(customer_class=RESIDENTIAL, monthly_kwh={date(2026, 7, 1): 20000})
    assert not is_large(premise)
    assert premises_large_commercial(premise_ids=[premise.pk], now=NOW) == {premise.pk: False}


def test_fewer_than_twelve_months_are_decided_on_what_exists():
    premise = make_premise(
        customer_class=COMMERCIAL, monthly_kwh={date(2026, 9, 1): 16000, date(2026, 10, 1): 900}
    )
    assert is_large(premise)


def test_commercial_premise_without_history_is_not_large():
    assert not is_large(make_premise(customer_class=COMMERCIAL))


def test_months_outside_the_window_are_not_counted():
    premise = make_premise(
        customer_class=COMMERCIAL,
        monthly_kwh=small_year()
        | {date(2025, 10, 1): 20000, date(2026, 11, 1): 20000, date(2026, 12, 1): 20000},
    )
    assert not is_large(premise)


def test_the_oldest_month_of_the_window_counts():
    premise = make_premise(customer_class=COMMERCIAL, monthly_kwh={date(2025, 11, 1): 20000})
    assert is_large(premise)


def test_a_month_completed_in_central_time_counts_before_utc_agrees():
    premise = make_premise(customer_class=COMMERCIAL, monthly_kwh={date(2026, 11, 1): 20000})
    assert not is_large(premise, now=datetime(2026, 12, 1, 3, 0, tzinfo=UTC))
    assert is_large(premise, now=datetime(2026, 12, 1, 6, 30, tzinfo=UTC))


def test_a_change_of_policy_moves_the_threshold():
    premise = make_premise(customer_class=COMMERCIAL, monthly_kwh={date(2026, 7, 1): 12000})
    assert not is_large(premise)
    policy = TermPolicy.current()
    policy.large_commercial_threshold_kwh = Decimal("10000")
    policy.save()
    assert is_large(premise)
    assert is_large(premise, policy=TermPolicy(large_commercial_threshold_kwh=12001)) is False


def test_many_premises_are_classified_in_one_query(django_assert_num_queries):
    large = make_premise(customer_class=COMMERCIAL, monthly_kwh={date(2026, 3, 1): 15000})
    small = make_premise(customer_class=COMMERCIAL, monthly_kwh={date(2026, 3, 1): 100})
    home = make_premise(customer_class=RESIDENTIAL, monthly_kwh={date(2026, 3, 1): 30000})
    empty = make_premise(customer_class=COMMERCIAL)
    policy = TermPolicy.current()
    with django_assert_num_queries(1):
        result = premises_large_commercial(
            premise_ids=[large.pk, small.pk, home.pk, empty.pk], now=NOW, policy=policy
        )
    assert result == {large.pk: True, small.pk: False, home.pk: False, empty.pk: False}


def test_term_limit_is_36_months_for_large_commercial_and_the_policy_limit_otherwise():
    policy = TermPolicy.current()
    assert term_limit_months(large_commercial=True, policy=policy) == 36
    assert term_limit_months(large_commercial=False, policy=policy) == 12


def test_an_agreement_exceeds_the_policy_limit_only_when_every_premise_is_large():
    policy = TermPolicy(standard_max_months=24, large_commercial_max_months=36)
    assert max_term_months_for(all_large_commercial=True, policy=policy) == 36
    assert max_term_months_for(all_large_commercial=False, policy=policy) == 24
