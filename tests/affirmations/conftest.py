"""Helpers for agreement tests: a fixed Monday, premises of each class, requests."""

from datetime import date, datetime

import pytest
import time_machine

from affirmations import services
from affirmations.models import Agreement, AgreementStatus
from affirmations.records import RECORD_CHAINS
from premises.models import CustomerClass
from smt_portal.actors import Actor
from smt_portal.calendar import CENTRAL, term_end
from tests.factories import active_meter_number, make_premise
from tests.personas import make_csp

# Monday 2026-11-23 09:00 Central: the link is valid to the end of Monday 2026-11-30.
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=CENTRAL)
DEADLINE = datetime(2026, 11, 30, 23, 59, 59, 999999, tzinfo=CENTRAL)
# A month inside the 12 complete months before NOW.
RECENT_MONTH = date(2026, 7, 1)


# A record's chain is its CSP's id modulo RECORD_CHAINS. On PostgreSQL ids keep
# rising across the suite, so two CSPs could share a chain, or one sit on
# chain 0 with the records of no CSP, depending on what ran before. Here the
# two CSPs every test knows have fixed ids on chains 1 and 2.
CHAINED_ID_BASE = RECORD_CHAINS * 62_500


@pytest.fixture
def active_csp(db):
    return make_csp(
        pk=CHAINED_ID_BASE + 1, legal_name="Bright Advice LLC",
        contact_email="ops@bright-advice.example",
    )  # fmt: skip


@pytest.fixture
def other_csp(db):
    return make_csp(
        pk=CHAINED_ID_BASE + 2, legal_name="Other Energy Inc",
        contact_email="api@other-energy.example", notice_email="legal@other-energy.example",
    )  # fmt: skip


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


def request_agreement(
    csp, *premises, term_months=12, now=NOW, language="en", email="jane.customer@example.com"
):
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


# A term ending 30 days after NOW: NOW is inside its 60-day renewal window (R12).
RENEWABLE_TERM_END = datetime(2026, 12, 23, 9, 0, tzinfo=CENTRAL)


def make_renewable(agreement):
    """Active, and old enough that a renewal may be asked for at NOW: its term
    started ``term_months`` before RENEWABLE_TERM_END."""
    years, month = divmod(RENEWABLE_TERM_END.month - 1 - agreement.term_months, 12)
    start = RENEWABLE_TERM_END.replace(year=RENEWABLE_TERM_END.year + years, month=month + 1)
    agreement = make_active(agreement, start=start)
    assert agreement.term_end == RENEWABLE_TERM_END
    return agreement


# --- The customer's side: disclosures, the bot challenge, opening emailed links ----------


@pytest.fixture
def disclosure(db):
    from affirmations.models import Disclosure

    return Disclosure.objects.create(
        version=3,
        text_en="You share usage data.\nYou may end it at any time.",
        text_es="Usted comparte datos de consumo.\nPuede terminarlo cuando quiera.",
        published_at=NOW,
    )


@pytest.fixture
def cheap_altcha(settings):
    """The real challenge and verification, with the least work the library allows."""
    settings.ALTCHA_CHALLENGE = {"algorithm": "SHA-256", "cost": 1, "key_prefix": "0"}


def solved_challenge(**overrides):
    """What the widget posts: a challenge the server signed, solved by the library."""
    from altcha.v2 import Payload, solve_challenge
    from altcha_django import build_challenge

    challenge = build_challenge(**overrides)
    return Payload(challenge, solve_challenge(challenge)).to_base64()


def link_path(email, kind="affirm"):
    """The emailed link's path (the stored body holds a placeholder, not the token)."""
    from smt_portal.sealed_tokens import tokens_in

    [token] = tokens_in(email.body_text)
    return f"/{kind}/{token}/"


def open_emailed_link(client, email, kind="affirm", **extra):
    """Follow the link as the customer's browser does: token → session → redirect."""
    response = client.get(link_path(email, kind), **extra)
    assert response.status_code == 302, response.status_code
    return response
