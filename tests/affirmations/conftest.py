"""Helpers for agreement tests: a fixed Monday, premises of each class, requests."""

from datetime import date, datetime

import pytest
import time_machine

from affirmations import services
from affirmations.calendar import CENTRAL, term_end
from affirmations.models import Agreement, AgreementStatus
from affirmations.records import Actor
from premises.models import CustomerClass
from tests.factories import active_meter_number, make_premise

# Monday 2026-11-23 09:00 Central: the link is valid to the end of Monday 2026-11-30.
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=CENTRAL)
DEADLINE = datetime(2026, 11, 30, 23, 59, 59, 999999, tzinfo=CENTRAL)
# A month inside the 12 complete months before NOW.
RECENT_MONTH = date(2026, 7, 1)


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def residential(**fields):
    return make_premise(customer_class=CustomerClass.RESIDENTIAL, **fields)


def large_commercial(**fields):
    return make_premise(
        customer_class=CustomerClass.COMMERCIAL,
        monthly_kwh={RECENT_MONTH: 15000},
        service_address=fields.pop("service_address", "2 Industrial Blvd, Houston, TX 77002"),
        **fields,
    )


def small_commercial(**fields):
    return make_premise(
        customer_class=CustomerClass.COMMERCIAL, monthly_kwh={RECENT_MONTH: 14999.999}, **fields
    )


def triple(premise):
    return (premise.esi_id, active_meter_number(premise), premise.rep_of_record.certificate_number)


def premise_json(premise):
    esi_id, meter, certificate = triple(premise)
    return {"esi_id": esi_id, "meter_number": meter, "rep_certificate_number": certificate}


def request_agreement(csp, *premises, term_months=12, now=NOW, language="en",
                      email="jane.customer@example.com"):  # fmt: skip
    return services.agreement_request(
        csp=csp,
        premises=[triple(p) for p in premises],
        customer_email=email,
        term_months=term_months,
        language=language,
        actor=Actor.csp(csp, key_prefix="abcd1234", ip="203.0.113.9", user_agent="tests"),
        now=now,
    )


def make_active(agreement, *, start=NOW):
    """Stand-in for the customer's opt-in (the next issue's service): set the term."""
    Agreement.objects.filter(pk=agreement.pk).update(
        status=AgreementStatus.ACTIVE,
        affirmed_at=start,
        decided_at=start,
        term_start=start,
        term_end=term_end(start, agreement.term_months),
    )
    agreement.refresh_from_db()
    return agreement
