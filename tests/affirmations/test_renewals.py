"""Renewal services (R12): one click for large commercial, the full affirmation otherwise."""

from datetime import date, datetime, timedelta
from urllib.parse import urlsplit

import pytest

from affirmations import services
from affirmations.models import (
    Agreement,
    AgreementLink,
    AgreementStatus,
    EndedBy,
    Record,
    RecordEvent,
    RenewalKind,
    RenewalStatus,
)
from csp_registry.models import CspStatus
from outbox.models import OutboundEmail
from premises.models import TermPolicy
from smt_portal.actors import Actor
from smt_portal.calendar import CENTRAL

from .conftest import (
    DEADLINE,
    NOW,
    RENEWABLE_TERM_END,
    large_commercial,
    make_active,
    make_renewable,
    request_agreement,
    residential,
)

pytestmark = pytest.mark.django_db
WHO = {"actor": Actor.customer(ip="198.51.100.7", user_agent="Mozilla/5.0 Tests")}


# The agreement's own address (request_agreement's), as a CSP may retype it.
OWN_ADDRESS = "Jane.Customer@Example.com"


def _request(agreement, email=OWN_ADDRESS, now=NOW):
    return services.agreement_renewal_request(
        agreement=agreement, customer_email=email, actor=Actor.csp(agreement.csp), now=now
    )


@pytest.fixture
def commercial(active_csp):
    return make_renewable(request_agreement(active_csp, large_commercial(), term_months=24))


@pytest.fixture
def home(active_csp):
    return make_renewable(request_agreement(active_csp, residential(), term_months=12))


def test_a_large_commercial_renewal_is_one_click_for_the_original_term(commercial):
    renewal = _request(commercial)

    assert renewal.kind == RenewalKind.ONE_CLICK
    assert renewal.term_months == 24
    assert renewal.expires_at == DEADLINE  # five weekdays, like the first link
    link = AgreementLink.objects.get(renewal=renewal)
    assert link.purpose == "renewal" and link.expires_at == DEADLINE
    email = OutboundEmail.objects.get(kind="renewal_request")
    assert email.to_address == OWN_ADDRESS
    assert "/renew/[[sealed:renewal:" in email.body_text
    assert 'press "Renew"' in email.body_text
    assert Record.objects.get(event=RecordEvent.RENEWAL_REQUESTED).details["kind"] == "one_click"


def test_a_one_click_renewal_to_another_address_goes_through_the_full_affirmation(commercial):
    renewal = _request(commercial, email="someone.else@example.net")

    # One click verifies nothing, so only the address that affirmed gets it;
    # the term is still the large-commercial one.
    assert renewal.kind == RenewalKind.FULL_AFFIRMATION
    assert renewal.term_months == 24
    email = OutboundEmail.objects.get(kind="renewal_request")
    assert email.to_address == "someone.else@example.net"
    assert "read the disclosures and agree" in email.body_text
    assert 'press "Renew"' not in email.body_text
    with pytest.raises(services.DisclosureOutdated):  # no disclosure, no renewal
        services.agreement_renew(renewal=renewal, now=NOW, **WHO)


def test_a_mixed_or_residential_agreement_renews_through_the_full_affirmation(active_csp):
    mixed = make_renewable(
        request_agreement(active_csp, large_commercial(), residential(), term_months=12)
    )
    renewal = _request(mixed)
    assert renewal.kind == RenewalKind.FULL_AFFIRMATION
    assert "read the disclosures and agree" in OutboundEmail.objects.last().body_text


def test_a_full_renewal_keeps_within_the_policy_limit_in_force_now(home):
    TermPolicy.objects.update_or_create(pk=1, defaults={"standard_max_months": 6})
    assert _request(home).term_months == 6


def test_only_one_renewal_is_open_at_a_time(commercial):
    _request(commercial)
    with pytest.raises(services.RenewalPending):
        _request(commercial)


def test_a_renewal_past_its_deadline_no_longer_blocks_a_new_one(commercial):
    first = _request(commercial)
    second = _request(commercial, now=DEADLINE + timedelta(seconds=1))
    first.refresh_from_db()
    assert first.status == RenewalStatus.TIMED_OUT
    assert second.status == RenewalStatus.PENDING


def test_only_an_active_agreement_within_its_term_is_renewed(active_csp, commercial):
    pending = request_agreement(active_csp, residential())
    with pytest.raises(services.AgreementNotOpen):
        _request(pending)
    with pytest.raises(services.AgreementNotOpen):
        _request(commercial, now=RENEWABLE_TERM_END)  # the sweep has not run yet


def test_a_suspended_provider_starts_no_renewal(commercial):
    commercial.csp.status = CspStatus.SUSPENDED
    commercial.csp.save()
    with pytest.raises(services.CspNotActive):
        _request(commercial)


def test_one_click_extends_the_term_by_the_original_term_from_its_end(commercial):
    renewal = _request(commercial)
    later = NOW + timedelta(days=2)

    done = services.agreement_renew(renewal=renewal, now=later, **WHO)

    assert done.status == RenewalStatus.RENEWED and done.decided_at == later
    agreement = Agreement.objects.get()
    assert agreement.term_end == datetime(2028, 12, 23, 9, 0, tzinfo=CENTRAL)
    assert done.new_term_end == agreement.term_end
    assert agreement.renewal_count == 1
    record = Record.objects.get(event=RecordEvent.RENEWED)
    assert record.ip == "198.51.100.7" and record.details["previous_term_end"]
    receipt = OutboundEmail.objects.get(kind="receipt_renewed")
    assert "December 23, 2028" in receipt.body_text


def test_a_renewal_is_used_once(commercial):
    renewal = _request(commercial)
    services.agreement_renew(renewal=renewal, now=NOW, **WHO)
    with pytest.raises(services.RenewalNotPending):
        services.agreement_renew(renewal=renewal, now=NOW, **WHO)
    assert Agreement.objects.get().renewal_count == 1


def test_a_full_renewal_needs_the_current_disclosures(home, disclosure):
    renewal = _request(home)
    with pytest.raises(services.DisclosureOutdated):
        services.agreement_renew(renewal=renewal, now=NOW, **WHO)
    done = services.agreement_renew(renewal=renewal, disclosure=disclosure, now=NOW, **WHO)
    assert done.disclosure == disclosure
    assert Agreement.objects.get().term_end == datetime(2027, 12, 23, 9, 0, tzinfo=CENTRAL)
    assert Record.objects.get(event=RecordEvent.RENEWED).details["disclosure_version"] == 3


def test_a_renewal_after_its_deadline_is_refused_and_swept(commercial):
    renewal = _request(commercial)
    late = DEADLINE + timedelta(seconds=1)
    with pytest.raises(services.RenewalNotPending):
        services.agreement_renew(renewal=renewal, now=late, **WHO)

    assert services.renewals_time_out(now=late) == 1
    renewal.refresh_from_db()
    assert renewal.status == RenewalStatus.TIMED_OUT
    assert Record.objects.filter(event=RecordEvent.RENEWAL_TIMED_OUT).count() == 1
    assert services.renewals_time_out(now=late) == 0


def test_a_renewal_of_an_agreement_that_ended_meanwhile_is_refused(commercial):
    renewal = _request(commercial)
    services.agreement_terminate(
        agreement=commercial,
        ended_by=EndedBy.CSP,
        reason="",
        actor=Actor.csp(commercial.csp),
        now=NOW,
    )
    renewal.refresh_from_db()
    assert renewal.status == RenewalStatus.CANCELLED
    with pytest.raises(services.RenewalNotPending):
        services.agreement_renew(renewal=renewal, now=NOW, **WHO)
    assert Agreement.objects.get().status == AgreementStatus.TERMINATED


def test_declining_a_renewal_leaves_the_term_as_it_was(commercial):
    renewal = _request(commercial)
    services.agreement_renewal_decline(renewal=renewal, now=NOW, **WHO)
    renewal.refresh_from_db()
    assert renewal.status == RenewalStatus.DECLINED
    assert Agreement.objects.get().term_end == RENEWABLE_TERM_END
    assert Record.objects.filter(event=RecordEvent.RENEWAL_DECLINED).exists()
    assert OutboundEmail.objects.filter(kind="receipt_renewal_declined").exists()


# --- The address that last affirmed (glossary, "Renewals") ------------------------------------


def _notices():
    return list(OutboundEmail.objects.filter(kind="renewal_elsewhere_notice").order_by("pk"))


def test_a_renewal_sent_elsewhere_tells_the_affirmed_address_with_a_not_me_link(commercial):
    renewal = _request(commercial, email="someone.else@example.net")

    # The request itself goes where the CSP said, as the full affirmation.
    assert OutboundEmail.objects.get(kind="renewal_request").to_address == renewal.customer_email
    [notice] = _notices()
    assert notice.to_address == "jane.customer@example.com"
    esi_id = commercial.premises.get().esi_id
    not_me = f"/report/?csp={commercial.csp_id}&lang=en&esi_id={esi_id}"
    for body in (notice.body_text, notice.body_html.replace("&amp;", "&")):
        assert "Bright Advice LLC" in body
        assert "s***@example.net" in body and "someone.else" not in body
        assert not_me in body
    assert "If this was not you, tell us" in notice.body_text
    assert "This was not me: report" in notice.body_html
    assert "mailto:" not in notice.body_html  # the masked address is not a link
    details = Record.objects.get(event=RecordEvent.RENEWAL_REQUESTED).details
    assert details["to_affirmed_address"] is False
    assert details["affirmed_email"] == "j***@example.com"
    assert details["notice_email_id"] == notice.pk


def test_a_renewal_to_the_affirmed_address_sends_no_notice(commercial):
    _request(commercial)  # the same address, typed in another case
    assert _notices() == []
    details = Record.objects.get(event=RecordEvent.RENEWAL_REQUESTED).details
    assert (details["to_affirmed_address"], details["notice_email_id"]) == (True, None)


def test_the_notice_speaks_the_customers_language(active_csp):
    agreement = make_renewable(request_agreement(active_csp, residential(), language="es"))
    _request(agreement, email="otra.persona@example.org")
    [notice] = _notices()
    assert notice.language == "es"
    assert "pidió renovar su acuerdo escribiendo a otra dirección" in notice.subject
    assert "Si no fue usted, avísenos" in notice.body_text
    assert "No fui yo: denunciar a" in notice.body_html
    assert "lang=es" in notice.body_text


def test_the_not_me_link_opens_the_report_form_filled_in(client, commercial):
    _request(commercial, email="someone.else@example.net")
    [notice] = _notices()
    link = urlsplit(next(word for word in notice.body_text.split() if "/report/?" in word))
    response = client.get(f"{link.path}?{link.query}")
    assert response.status_code == 200
    assert response.context["form"].initial == {
        "csp": str(commercial.csp_id), "esi_id": commercial.premises.get().esi_id,
    }  # fmt: skip


def test_the_address_that_renewed_is_the_one_that_last_affirmed(commercial, disclosure):
    first = _request(commercial, email="new.owner@example.net")
    services.agreement_renew(renewal=first, disclosure=disclosure, now=NOW, **WHO)
    assert services.agreement_affirmed_email(commercial) == "new.owner@example.net"

    # One click now goes to the new owner only; the first address is now "another one".
    later = NOW + timedelta(days=720)  # in the window before the new term ends
    again = _request(commercial, email="New.Owner@example.net", now=later)
    assert again.kind == RenewalKind.ONE_CLICK
    assert len(_notices()) == 1  # the first renewal's notice only
    services.agreement_renewal_decline(renewal=again, now=later, **WHO)
    _request(commercial, email=OWN_ADDRESS, now=later)
    assert [notice.to_address for notice in _notices()][-1] == "new.owner@example.net"


# --- The renewal window: one renewal per term, terms never stack (glossary, "Renewals") ----


def test_a_renewal_asked_right_after_the_opt_in_is_refused_with_the_date_the_window_opens(
    active_csp,
):
    home = make_active(request_agreement(active_csp, residential(), term_months=12))

    with pytest.raises(services.RenewalNotOpen) as refused:
        _request(home, now=NOW + timedelta(seconds=5))

    # The term ends 2027-11-23 09:00 Central: the last 60 days start 2027-09-24.
    assert refused.value.code == "renewal_not_open"
    assert refused.value.opens_on == date(2027, 9, 24)
    assert not OutboundEmail.objects.filter(kind="renewal_request").exists()
    assert not Record.objects.filter(event=RecordEvent.RENEWAL_REQUESTED).exists()


def test_the_window_opens_exactly_sixty_days_before_the_term_ends(active_csp):
    home = make_active(request_agreement(active_csp, residential(), term_months=12))
    opens = datetime(2027, 9, 24, 9, 0, tzinfo=CENTRAL)

    with pytest.raises(services.RenewalNotOpen):
        _request(home, now=opens - timedelta(microseconds=1))
    assert _request(home, now=opens).status == RenewalStatus.PENDING


def test_a_second_renewal_in_the_same_window_is_refused_until_the_new_terms_window(commercial):
    first = _request(commercial)
    services.agreement_renew(renewal=first, now=NOW, **WHO)

    # The 108-month case: the second click of the same window stacks nothing.
    with pytest.raises(services.RenewalNotOpen) as refused:
        _request(commercial, now=NOW + timedelta(days=1))
    assert refused.value.opens_on == date(2028, 10, 24)  # 60 days before 2028-12-23
    assert Agreement.objects.get().term_end == datetime(2028, 12, 23, 9, 0, tzinfo=CENTRAL)


def test_the_window_is_the_one_stored_with_the_agreement_not_the_policy_in_force_now(active_csp):
    TermPolicy.objects.update_or_create(pk=1, defaults={"renewal_window_days": 90})
    home = make_active(request_agreement(active_csp, residential(), term_months=12))
    assert home.renewal_window_days == 90
    TermPolicy.objects.filter(pk=1).update(renewal_window_days=30)

    # 90 days before 2027-11-23 09:00 Central is 2027-08-25 09:00.
    assert _request(home, now=datetime(2027, 8, 25, 9, 0, tzinfo=CENTRAL)).pk


def test_a_renewal_answered_after_the_term_was_renewed_another_way_does_not_stack(commercial):
    renewal = _request(commercial)
    # Another path extended this term meanwhile (the database as it would then be).
    renewed_end = datetime(2028, 12, 23, 9, 0, tzinfo=CENTRAL)
    Agreement.objects.filter(pk=commercial.pk).update(term_end=renewed_end)

    with pytest.raises(services.RenewalNotPending):
        services.agreement_renew(renewal=renewal, now=NOW + timedelta(days=1), **WHO)
    assert Agreement.objects.get().term_end == renewed_end
    renewal.refresh_from_db()
    assert renewal.status == RenewalStatus.PENDING and renewal.new_term_end is None
