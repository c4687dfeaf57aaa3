"""The rules of an agreement's life: one predicate each, and the SQL twin agrees."""

from datetime import date, timedelta

import pytest
from django.db import connection

from affirmations.models import Agreement
from affirmations.rules import (
    access_granted_at,
    access_granted_at_sql,
    can_decide,
    can_end,
    grants_access,
)
from csp_registry.models import ApiRequestLog, CspStatus
from smt_portal.calendar import term_end

from .conftest import DEADLINE, NOW, make_active, request_agreement, residential

pytestmark = pytest.mark.django_db


def test_a_request_can_be_decided_until_the_last_microsecond_of_its_deadline(active_csp):
    agreement = request_agreement(active_csp, residential())
    assert can_decide(agreement, DEADLINE)
    assert not can_decide(agreement, DEADLINE + timedelta(microseconds=1))
    assert not can_end(agreement, NOW)


def test_an_active_agreement_can_be_ended_until_its_term_ends(active_csp):
    agreement = make_active(request_agreement(active_csp, residential(), term_months=3))
    assert can_end(agreement, term_end(NOW, 3) - timedelta(microseconds=1))
    assert not can_end(agreement, term_end(NOW, 3))
    assert not can_decide(agreement, NOW)


@pytest.fixture
def shared(active_csp):
    premise = residential()
    return make_active(request_agreement(active_csp, premise)), premise.esi_id


def test_an_active_agreement_grants_its_premises_data_up_to_today(shared):
    agreement, esi_id = shared
    today = NOW.date()
    assert grants_access(agreement, esi_id, today, NOW)
    assert not grants_access(agreement, esi_id, today + timedelta(days=1), NOW)
    assert not grants_access(agreement, "10443720000000001", today, NOW)


def test_a_suspended_csp_or_an_ended_term_grants_nothing(shared):
    agreement, esi_id = shared
    agreement.csp.status = CspStatus.SUSPENDED
    assert not grants_access(agreement, esi_id, NOW.date(), NOW)
    agreement.csp.status = CspStatus.ACTIVE
    after = agreement.term_end + timedelta(days=1)
    assert not grants_access(agreement, esi_id, date(2026, 11, 23), after)


def test_a_pending_request_grants_nothing(active_csp):
    premise = residential()
    agreement = request_agreement(active_csp, premise)
    assert not grants_access(agreement, premise.esi_id, NOW.date(), NOW)


def test_the_sql_twin_says_what_the_predicate_says(active_csp):
    pending = request_agreement(active_csp, residential())
    active = make_active(request_agreement(active_csp, residential(), term_months=3))
    ended = make_active(request_agreement(active_csp, residential(), term_months=3))
    Agreement.objects.filter(pk=ended.pk).update(ended_at=NOW + timedelta(days=10))
    # Moments stored as the detectors meet them: timestamp columns of logged calls.
    calls = {
        ApiRequestLog.objects.create(
            csp=active_csp, ip="192.0.2.1", method="GET", path="/api/v1/", status_code=200,
            created_at=moment,
        ).pk: moment
        for moment in (NOW - timedelta(days=1), NOW, NOW + timedelta(days=10),
                       term_end(NOW, 3), NOW + timedelta(days=200))
    }  # fmt: skip
    granted = access_granted_at_sql("a", "l.created_at")
    query = (
        f"SELECT l.id, CASE WHEN {granted} THEN 1 ELSE 0 END"  # noqa: S608 - no input
        " FROM csp_registry_apirequestlog l, affirmations_agreement a WHERE a.id = %s"
    )
    for agreement in (pending, active, ended):
        agreement.refresh_from_db()
        with connection.cursor() as cursor:
            cursor.execute(query, [agreement.pk])
            verdicts = dict(cursor.fetchall())
        for call_id, moment in calls.items():
            expected = access_granted_at(agreement, moment)
            assert bool(verdicts[call_id]) == expected, (agreement.pk, moment)
