"""Reminders (glossary): "you are still sharing with X; here is how to stop", every
90 days of an active term and 30 days before it ends, staff-set, set-based."""

from datetime import timedelta

import pytest
from django.core.management import call_command

from affirmations import services
from affirmations.models import Agreement, AgreementStatus, Record, RecordEvent
from affirmations.records import records_verify
from outbox.models import OutboundEmail
from premises.models import TermPolicy
from smt_portal.actors import Actor

from .conftest import (
    NOW,
    large_commercial,
    link_path,
    make_active,
    make_renewable,
    request_agreement,
    residential,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen", "disclosure")]
WHO = {"actor": Actor.customer(ip="198.51.100.7", user_agent="Tests")}
MICROSECOND = timedelta(microseconds=1)
DAY_90 = NOW + timedelta(days=90)


def _opted_in(csp, **fields):
    agreement = request_agreement(csp, residential(), **fields)
    return services.agreement_opt_in(
        agreement=agreement, disclosure=services.disclosure_current(), now=NOW, **WHO
    )


def _reminders():
    return OutboundEmail.objects.filter(kind="sharing_reminder").order_by("pk")


def test_an_opted_in_customer_is_reminded_90_days_into_the_term_not_a_microsecond_before(
    active_csp,
):
    agreement = _opted_in(active_csp)
    assert agreement.next_sharing_reminder_at == DAY_90

    assert services.agreements_remind_sharing(now=DAY_90 - MICROSECOND) == 0
    assert services.agreements_remind_sharing(now=DAY_90) == 1

    [email] = _reminders()
    assert email.to_address == agreement.customer_email
    assert "you are still sharing your electricity data with" in email.subject
    assert agreement.premises.get().esi_id in email.body_text
    assert "[[sealed:termination:" in email.body_text and "Stop sharing</a>" in email.body_html
    agreement.refresh_from_db()
    assert agreement.next_sharing_reminder_at == DAY_90 + timedelta(days=90)
    record = Record.objects.get(event=RecordEvent.SHARING_REMINDED)
    assert (record.agreement_id, record.details) == (agreement.pk, {"kind": "periodic"})
    assert record.actor_type == "system"
    # Sent once: the next run finds nothing due.
    assert services.agreements_remind_sharing(now=DAY_90 + timedelta(hours=1)) == 0
    assert records_verify().intact


def test_the_reminders_link_opens_the_stop_page_whose_get_changes_nothing(
    active_csp, client, time_machine
):
    agreement = _opted_in(active_csp)
    time_machine.move_to(DAY_90, tick=False)
    services.agreements_remind_sharing(now=DAY_90)
    [email] = _reminders()

    response = client.get(link_path(email, "end"))

    assert response.status_code == 302 and response["Location"] == "/end/"
    assert "Stop sharing" in client.get("/end/").content.decode()
    agreement.refresh_from_db()
    assert agreement.status == AgreementStatus.ACTIVE


def test_the_customer_is_told_once_30_days_before_the_term_ends(active_csp):
    # A three-month term: its 90th day falls inside the last 30, so only the notice goes.
    agreement = _opted_in(active_csp, term_months=3)
    notice_at = agreement.term_end - timedelta(days=30)

    assert services.agreements_remind_sharing(now=notice_at - MICROSECOND) == 0
    assert services.agreements_remind_sharing(now=notice_at) == 1
    assert services.agreements_remind_sharing(now=agreement.term_end - MICROSECOND) == 0

    [email] = _reminders()
    assert "ends soon" in email.subject
    assert "unless you agree to renew it" in email.body_text
    assert Record.objects.get(event=RecordEvent.SHARING_REMINDED).details == {
        "kind": "term_end_notice"
    }


def test_staff_set_the_periods(active_csp):
    TermPolicy.objects.update_or_create(
        pk=1, defaults={"sharing_reminder_days": 7, "term_end_notice_days": 3}
    )
    agreement = _opted_in(active_csp)

    assert agreement.next_sharing_reminder_at == NOW + timedelta(days=7)
    assert services.agreements_remind_sharing(now=NOW + timedelta(days=7)) == 1
    assert services.agreements_remind_sharing(now=NOW + timedelta(days=14)) == 1
    assert services.agreements_remind_sharing(now=agreement.term_end - timedelta(days=3)) == 1
    assert [e.subject.startswith("Your data sharing") for e in _reminders()] == [
        False, False, True,
    ]  # fmt: skip


def test_a_spanish_speaking_customer_is_reminded_in_spanish(active_csp):
    _opted_in(active_csp, language="es")
    services.agreements_remind_sharing(now=DAY_90)

    [email] = _reminders()
    assert email.language == "es"
    assert "usted sigue compartiendo" in email.subject
    assert "Dejar de compartir</a>" in email.body_html


def test_agreements_made_before_reminders_existed_are_reminded_a_period_after_their_start(
    active_csp,
):
    old = make_active(request_agreement(active_csp, residential()))
    assert old.next_sharing_reminder_at is None

    assert services.agreements_remind_sharing(now=DAY_90 - MICROSECOND) == 0
    assert services.agreements_remind_sharing(now=DAY_90) == 1


def test_pending_and_ended_agreements_are_not_reminded(active_csp):
    request_agreement(active_csp, residential())
    ended = _opted_in(active_csp)
    Agreement.objects.filter(pk=ended.pk).update(status=AgreementStatus.TERMINATED)

    assert services.agreements_remind_sharing(now=DAY_90) == 0


def _queries_to_remind(csp, count, django_assert_max_num_queries):
    for _ in range(count):
        make_active(request_agreement(csp, residential()))
    with django_assert_max_num_queries(100) as captured:
        assert services.agreements_remind_sharing(now=DAY_90) == count
    assert _reminders().count() == count
    return len(captured.captured_queries)


def test_the_sweep_takes_the_same_queries_for_1_or_10_agreements(
    active_csp, django_assert_max_num_queries
):
    one = _queries_to_remind(active_csp, 1, django_assert_max_num_queries)
    Agreement.objects.update(status=AgreementStatus.TERMINATED)
    OutboundEmail.objects.all().delete()
    ten = _queries_to_remind(active_csp, 10, django_assert_max_num_queries)
    assert one == ten


def test_run_jobs_runs_the_reminders(active_csp, time_machine):
    _opted_in(active_csp)
    time_machine.move_to(DAY_90, tick=False)

    call_command("run_jobs", "--only", "affirmations.tasks.remind_sharing_customers")

    assert _reminders().count() == 1


def test_a_renewal_makes_the_notice_before_the_new_term_end_due_again(active_csp):
    agreement = make_renewable(request_agreement(active_csp, large_commercial(), term_months=24))
    assert services.agreements_remind_sharing(now=NOW) == 1  # 30 days before the old end
    renewal = services.agreement_renewal_request(
        agreement=agreement, customer_email=agreement.customer_email,
        actor=Actor.csp(active_csp), now=NOW,
    )  # fmt: skip
    services.agreement_renew(renewal=renewal, now=NOW + timedelta(days=2), **WHO)
    agreement.refresh_from_db()
    assert agreement.term_end_notice_sent_at is None

    assert services.agreements_remind_sharing(now=NOW + timedelta(days=3)) == 0
    notice_at = agreement.term_end - timedelta(days=30)
    assert services.agreements_remind_sharing(now=notice_at) == 1
    assert "ends soon" in _reminders().last().subject
