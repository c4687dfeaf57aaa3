"""Renewals never stack (R12), whatever the CSP asks and the customer answers, and when.

The issue: a 36-month large-commercial agreement one-click renewed twice, to
108 months, and a residential one renewed seconds after the opt-in. Whatever
sequence of clock moves, renewal requests and answers, after every step the
time left is at most one term plus the renewal window (glossary, "Renewals").
"""

from datetime import timedelta

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from affirmations import services
from affirmations.models import Agreement, AgreementStatus, Renewal, RenewalStatus
from smt_portal.actors import Actor
from smt_portal.calendar import CENTRAL, term_end

from .conftest import NOW, large_commercial, make_active, request_agreement, residential

pytestmark = pytest.mark.django_db
PROPERTY = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
CUSTOMER = Actor.customer(ip="198.51.100.7", user_agent="Mozilla/5.0 Tests")

steps = st.lists(
    st.one_of(
        # Let time pass (up to a bit more than a year at a time).
        st.tuples(st.just("advance"), st.integers(0, 400), st.integers(0, 23)),
        # Jump to so many days before the current term ends (into or near the window).
        st.tuples(st.just("before_end"), st.integers(0, 75)),
        st.tuples(st.just("request"), st.booleans()),  # to the affirmed address, or another
        st.just(("renew",)),
        st.just(("decline",)),
    ),
    max_size=14,
)


def latest_allowed_end(now, agreement):
    """One original term after the window's length from now: the most a term may reach."""
    window_end = now.astimezone(CENTRAL) + timedelta(days=agreement.renewal_window_days)
    return term_end(window_end, agreement.term_months)


def _step(step, agreement, now, disclosure):
    """Apply one step; returns the new ``now``. Refusals are part of the game."""
    kind = step[0]
    if kind == "advance":
        return now + timedelta(days=step[1], hours=step[2])
    if kind == "before_end":
        return max(now, agreement.term_end - timedelta(days=step[1]))
    pending = Renewal.objects.filter(agreement=agreement, status=RenewalStatus.PENDING).last()
    try:
        if kind == "request":
            email = agreement.customer_email if step[1] else "someone.else@example.net"
            services.agreement_renewal_request(
                agreement=agreement, customer_email=email, actor=Actor.csp(agreement.csp), now=now
            )
        elif pending is not None and kind == "renew":
            services.agreement_renew(
                renewal=pending, disclosure=disclosure, now=now, actor=CUSTOMER
            )
        elif pending is not None:
            services.agreement_renewal_decline(renewal=pending, now=now, actor=CUSTOMER)
    except services.AgreementError:
        pass
    return now


def _play(make_premise, months, sequence, csp, disclosure):
    with transaction.atomic():
        agreement = make_active(request_agreement(csp, make_premise(), term_months=months))
        now = NOW + timedelta(seconds=5)  # seconds after the opt-in
        for step in sequence:
            now = _step(step, agreement, now, disclosure)
            agreement.refresh_from_db()
            if agreement.status == AgreementStatus.ACTIVE and agreement.term_end > now:
                assert agreement.term_end <= latest_allowed_end(now, agreement), (step, now)
            # A renewal adds exactly the original term, from the end of the current one.
            assert agreement.term_end == term_end(NOW, months * (agreement.renewal_count + 1))
        transaction.set_rollback(True)


@PROPERTY
@given(sequence=steps)
def test_a_36_month_large_commercial_agreement_never_holds_more_than_a_term_and_the_window(
    active_csp, disclosure, sequence
):
    _play(large_commercial, 36, sequence, active_csp, disclosure)


@PROPERTY
@given(sequence=steps)
def test_a_12_month_residential_agreement_never_holds_more_than_a_term_and_the_window(
    active_csp, disclosure, sequence
):
    _play(residential, 12, sequence, active_csp, disclosure)


def test_the_issues_108_months_cannot_happen(active_csp):
    """The reported sequence, spelled out: two one-click renewals of the same term."""
    agreement = make_active(request_agreement(active_csp, large_commercial(), term_months=36))
    in_window = agreement.term_end - timedelta(days=10)
    first = services.agreement_renewal_request(
        agreement=agreement, customer_email=agreement.customer_email,
        actor=Actor.csp(active_csp), now=in_window,
    )  # fmt: skip
    services.agreement_renew(renewal=first, now=in_window, actor=CUSTOMER)

    with pytest.raises(services.RenewalNotOpen):
        services.agreement_renewal_request(
            agreement=agreement, customer_email=agreement.customer_email,
            actor=Actor.csp(active_csp), now=in_window + timedelta(minutes=1),
        )  # fmt: skip
    assert Agreement.objects.get().term_end == term_end(NOW, 72)
