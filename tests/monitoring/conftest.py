"""Helpers for monitoring tests: a fixed moment, agreements and decisions written
directly (the decision pages are another issue), and staff in each role."""

import io
from datetime import datetime, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from affirmations.models import Agreement, AgreementPremise, AgreementStatus, RecordEvent
from affirmations.records import record_append
from monitoring.models import RedFlag
from monitoring.seed import AUDITOR, COMMITTEE, LIAISON, seed_reference_data
from monitoring.services import detectors_run
from smt_portal.actors import Actor
from smt_portal.calendar import CENTRAL
from tests.factories import make_premise

# Monday 2026-11-23 12:00 Central (18:00 UTC): inside one UTC day and one UTC hour window.
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=CENTRAL)

_EVENT_STATUS = {
    RecordEvent.OPTED_IN: AgreementStatus.ACTIVE,
    RecordEvent.OPTED_OUT: AgreementStatus.OPTED_OUT,
    RecordEvent.REPORTED_SPAM: AgreementStatus.REPORTED_SPAM,
    RecordEvent.TIMED_OUT: AgreementStatus.TIMED_OUT,
}


def make_agreement(csp, *, email="jane@example.com", sent_at=None, premises=(), **fields):
    """A pending agreement of ``csp`` sent at ``sent_at``, its request recorded."""
    sent_at = sent_at or NOW - timedelta(hours=2)
    agreement = Agreement.objects.create(
        csp=csp, customer_email=email, term_months=12, max_term_months=12,
        confirmation_code="ABCD2345", created_at=sent_at, affirmation_sent_at=sent_at,
        affirmation_expires_at=sent_at + timedelta(days=7), **fields,
    )  # fmt: skip
    AgreementPremise.objects.bulk_create(
        AgreementPremise(agreement=agreement, premise=premise, csp=csp, esi_id=premise.esi_id,
                         service_address="1 Main St", large_commercial=False, is_open=True)
        for premise in premises
    )  # fmt: skip
    record_append(event=RecordEvent.REQUEST_CREATED, actor=Actor.csp(csp), now=sent_at,
                  agreement=agreement)  # fmt: skip
    return agreement


def decide(agreement, event=RecordEvent.OPTED_IN, *, ip="198.51.100.10", at=None):
    """The customer's decision (or the time-out sweep's) as the record shows it."""
    at = at or NOW - timedelta(minutes=30)
    status = _EVENT_STATUS[event]
    values = {"status": status, "decided_at": at}
    if status == AgreementStatus.ACTIVE:
        values |= {"affirmed_at": at, "term_start": at, "term_end": at + timedelta(days=365)}
    else:
        values |= {"ended_at": at}
    Agreement.objects.filter(pk=agreement.pk).update(**values)
    AgreementPremise.objects.filter(agreement=agreement).update(
        is_open=status == AgreementStatus.ACTIVE
    )
    actor = (
        Actor.system()
        if event == RecordEvent.TIMED_OUT
        else Actor.customer(ip=ip, user_agent="Mozilla/5.0 (tests)")
    )
    record_append(event=event, actor=actor, now=at, agreement=agreement)
    agreement.refresh_from_db()
    return agreement


def decided(csp, count, event=RecordEvent.OPTED_IN, *, ip_for=lambda i: "198.51.100.10",
            **fields):  # fmt: skip
    return [
        decide(make_agreement(csp, email=f"customer{i}@example.com", **fields), event,
               ip=ip_for(i))
        for i in range(count)
    ]  # fmt: skip


def run_detectors(name, now=NOW):
    """Run every detector; the flags of detector ``name``."""
    detectors_run(now=now)
    return list(RedFlag.objects.filter(detector=name).order_by("pk"))


def premises(count):
    return [make_premise() for _ in range(count)]


@pytest.fixture
def roles(db):
    seed_reference_data(io.StringIO())


def staff_in(group_name, username):
    user = get_user_model().objects.create(username=username, is_staff=True)
    user.groups.add(Group.objects.get(name=group_name))
    return user


@pytest.fixture
def committee_member(roles):
    return staff_in(COMMITTEE, "carla-committee")


@pytest.fixture
def liaison(roles):
    return staff_in(LIAISON, "lou-liaison")


@pytest.fixture
def auditor(roles):
    return staff_in(AUDITOR, "aud-auditor")
