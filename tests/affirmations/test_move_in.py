"""A move-in ends consent (glossary B13), shown through ``import_premises``."""

import csv
from datetime import date, datetime
from io import StringIO

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from affirmations import services
from affirmations.models import (
    Agreement,
    AgreementPremise,
    AgreementStatus,
    EndedBy,
    Record,
    RecordEvent,
)
from affirmations.rules import affirmation_state
from csp_registry.models import CspEvent, EventType
from outbox.models import OutboundEmail
from premises.models import Premise
from smt_portal.actors import Actor
from smt_portal.calendar import CENTRAL
from tests.factories import active_meter_number, make_rep

from .conftest import NOW, make_active, request_agreement, residential

pytestmark = pytest.mark.django_db
WHO = {"actor": Actor.customer(ip="198.51.100.7", user_agent="Mozilla/5.0 Tests")}
# The request is made on Monday 23 November (NOW); the feed arrives on Friday the 27th.
IMPORTED_AT = datetime(2026, 11, 27, 10, 0, tzinfo=CENTRAL)
HEADER = [
    "esi_id",
    "meter_number",
    "rep_certificate_number",
    "customer_class",
    "service_address",
    "occupant_since",
]


def feed_row(premise, *, occupant_since="", meter_number=None, certificate=None):
    return [
        premise.esi_id,
        meter_number or active_meter_number(premise),
        certificate or premise.rep_of_record.certificate_number,
        premise.customer_class,
        premise.service_address,
        str(occupant_since),
    ]


def import_premises(tmp_path, *rows, at=IMPORTED_AT):
    path = tmp_path / f"premises-{len(list(tmp_path.iterdir()))}.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([HEADER, *rows])
    out = StringIO()
    with time_machine.travel(at, tick=False):
        call_command("import_premises", str(path), stdout=out, stderr=StringIO())
    return out.getvalue()


def test_a_move_in_after_the_affirmation_ends_the_agreement_and_tells_customer_and_csp(
    active_csp, tmp_path
):
    premise = residential(service_address="12 Elm St, Austin, TX")
    agreement = make_active(request_agreement(active_csp, premise))

    output = import_premises(tmp_path, feed_row(premise, occupant_since=date(2026, 11, 25)))

    assert "1 move ins" in output
    agreement.refresh_from_db()
    assert agreement.status == AgreementStatus.TERMINATED
    assert (agreement.ended_by, agreement.end_reason) == (EndedBy.SYSTEM, "occupant_changed")
    assert agreement.ended_at == IMPORTED_AT
    assert not AgreementPremise.objects.filter(agreement=agreement, is_open=True).exists()
    record = Record.objects.get(event=RecordEvent.TERMINATED, agreement=agreement)
    assert record.details["reason"] == "occupant_changed"
    assert record.details["from_status"] == "active"
    [event] = CspEvent.objects.filter(agreement_id=agreement.pk)
    assert event.type == EventType.AGREEMENT_TERMINATED
    assert event.data["agreement"]["ended_reason"] == "occupant_changed"
    customer_email = OutboundEmail.objects.get(kind="agreement_occupant_changed")
    assert customer_email.to_address == agreement.customer_email
    assert customer_email.pk == record.details["email_id"]
    assert "new customer moved in" in customer_email.body_text
    assert premise.esi_id in customer_email.body_text
    csp_email = OutboundEmail.objects.get(kind="csp_occupant_changed")
    assert csp_email.to_address == active_csp.notice_email
    assert csp_email.pk == record.details["csp_email_id"]
    assert agreement.confirmation_code in csp_email.body_text
    assert f"ESI ID {premise.esi_id}: new customer since 2026-11-25" in csp_email.body_text


def test_a_pending_request_made_before_the_move_in_ends_and_cannot_be_opted_into(
    active_csp, tmp_path, disclosure
):
    premise = residential()
    agreement = request_agreement(active_csp, premise)

    import_premises(tmp_path, feed_row(premise, occupant_since=date(2026, 11, 24)))

    agreement.refresh_from_db()
    assert (agreement.status, agreement.end_reason) == (
        AgreementStatus.TERMINATED,
        "occupant_changed",
    )
    assert Record.objects.get(event=RecordEvent.TERMINATED).details["from_status"] == (
        "pending_affirmation"
    )
    email = OutboundEmail.objects.get(kind="agreement_occupant_changed")
    assert "was withdrawn" in email.subject
    assert affirmation_state(agreement, IMPORTED_AT) == "closed"
    with pytest.raises(services.DecisionAlreadyMade):
        services.agreement_opt_in(
            agreement=agreement, disclosure=disclosure, now=IMPORTED_AT, **WHO
        )


def test_a_request_older_than_the_occupant_cannot_be_opted_into_even_if_nothing_ended_it(
    active_csp, disclosure
):
    # The feed's date landed without the sweep (the page was open meanwhile):
    # the opt-in itself refuses.
    premise = residential()
    agreement = request_agreement(active_csp, premise)
    Premise.objects.filter(pk=premise.pk).update(occupant_since=date(2026, 11, 24))

    assert affirmation_state(agreement, IMPORTED_AT) == "closed"
    with pytest.raises(services.AgreementNotOpen):
        services.agreement_opt_in(
            agreement=agreement, disclosure=disclosure, now=IMPORTED_AT, **WHO
        )
    agreement.refresh_from_db()
    assert agreement.status == AgreementStatus.PENDING_AFFIRMATION


def test_an_agreement_affirmed_on_or_after_the_move_in_date_stands(active_csp, other_csp, tmp_path):
    premise = residential()
    on_the_day = make_active(request_agreement(active_csp, premise))  # affirmed 23 November
    later = make_active(
        request_agreement(other_csp, premise), start=datetime(2026, 11, 24, 8, tzinfo=CENTRAL)
    )

    import_premises(tmp_path, feed_row(premise, occupant_since=date(2026, 11, 23)))

    assert set(Agreement.objects.values_list("status", flat=True)) == {AgreementStatus.ACTIVE}
    assert not Record.objects.filter(event=RecordEvent.TERMINATED).exists()
    assert not OutboundEmail.objects.filter(kind__contains="occupant_changed").exists()
    assert on_the_day.pk != later.pk


def test_the_affirmation_date_is_the_local_central_date(active_csp, tmp_path):
    # 21:00 in Texas on 23 November is already the 24th in UTC.
    premise = residential()
    evening = datetime(2026, 11, 23, 21, 0, tzinfo=CENTRAL)
    agreement = make_active(request_agreement(active_csp, premise), start=evening)

    import_premises(tmp_path, feed_row(premise, occupant_since=date(2026, 11, 24)))

    agreement.refresh_from_db()
    assert agreement.status == AgreementStatus.TERMINATED


def test_a_rep_switch_and_a_meter_exchange_by_the_same_customer_end_nothing(active_csp, tmp_path):
    premise = residential()
    import_premises(tmp_path, feed_row(premise, occupant_since=date(2020, 5, 1)), at=NOW)
    agreement = make_active(request_agreement(active_csp, premise))
    make_rep("10166X")

    output = import_premises(
        tmp_path,
        feed_row(
            premise, occupant_since=date(2020, 5, 1), meter_number="998877665", certificate="10166X"
        ),
    )
    output += import_premises(tmp_path, feed_row(premise, meter_number="112233445"))

    assert "1 meter exchanges, 1 rep switches" in output
    assert "0 move ins" in output
    agreement.refresh_from_db()
    assert agreement.status == AgreementStatus.ACTIVE
    assert Premise.objects.get(pk=premise.pk).occupant_since == date(2020, 5, 1)
    assert active_meter_number(premise) == "112233445"
    assert not Record.objects.filter(event=RecordEvent.TERMINATED).exists()
    assert not CspEvent.objects.filter(type=EventType.AGREEMENT_TERMINATED).exists()


def test_a_future_move_in_is_a_bad_row_and_nothing_ends(active_csp, tmp_path):
    premise = residential()
    agreement = make_active(request_agreement(active_csp, premise))

    with pytest.raises(CommandError):
        import_premises(tmp_path, feed_row(premise, occupant_since=date(2026, 11, 28)))

    agreement.refresh_from_db()
    assert agreement.status == AgreementStatus.ACTIVE
    assert Premise.objects.get(pk=premise.pk).occupant_since is None


def _ended_by_import(tmp_path, active_csp, other_csp, count):
    premises = [residential() for _ in range(count)]
    for premise in premises:
        make_active(request_agreement(active_csp, premise))
        request_agreement(other_csp, premise)
    rows = [feed_row(premise, occupant_since=date(2026, 11, 25)) for premise in premises]
    with CaptureQueriesContext(connection) as queries:
        import_premises(tmp_path, *rows)
    return len(queries)


def test_the_sweep_is_set_based_not_a_query_per_agreement(active_csp, other_csp, tmp_path):
    (tmp_path / "few").mkdir()
    (tmp_path / "many").mkdir()
    few = _ended_by_import(tmp_path / "few", active_csp, other_csp, 2)
    many = _ended_by_import(tmp_path / "many", active_csp, other_csp, 10)

    assert many == few
    assert Agreement.objects.filter(status=AgreementStatus.TERMINATED).count() == 24
    # One notice per CSP per import, one per former customer.
    assert OutboundEmail.objects.filter(kind="csp_occupant_changed").count() == 4
    assert OutboundEmail.objects.filter(kind="agreement_occupant_changed").count() == 24
