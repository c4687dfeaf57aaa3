"""Each detector: rows that raise a flag, rows just under the threshold that do
not, and a re-run that adds no duplicate."""

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from affirmations.models import Agreement, AgreementPremise, EndedBy, RecordEvent
from affirmations.services import agreement_renewal_request as renewal_service
from csp_registry.models import ApiRequestLog
from data_access.models import DataAccessLog
from monitoring.detectors import DETECTORS, Window
from monitoring.models import DetectorSetting, FlagStatus, PremiseAuthenticationAttempt
from monitoring.services import detectors_run, flag_dismiss
from smt_portal.actors import Actor
from tests.factories import make_csp
from tests.monitoring.conftest import (
    NOW,
    decide,
    decided,
    make_agreement,
    premises,
    run_detectors,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def csp(db):
    return make_csp(
        legal_name="Bright Advice LLC",
        contact_email="ops@bright-advice.example",
        notice_email="legal@bright-advice.example",
    )


def set_thresholds(name, **values):
    detectors_run(now=NOW - timedelta(days=30))  # creates the settings rows
    setting = DetectorSetting.objects.get(name=name)
    setting.thresholds = {**setting.thresholds, **values}
    setting.save()


# --- windows ---------------------------------------------------------------------------


def test_windows_are_aligned_so_reruns_share_one():
    hour = timedelta(hours=1)
    first = Window.containing(NOW + timedelta(minutes=1), hour)
    second = Window.containing(NOW + timedelta(minutes=59), hour)
    assert first == second and first.end - first.start == hour
    assert first.previous().end == first.start


def test_every_detector_has_a_settings_row_after_a_run():
    detectors_run(now=NOW)
    assert set(DetectorSetting.objects.values_list("name", flat=True)) == set(DETECTORS)


# --- 1. mass affirmation from one place -------------------------------------------------


def test_ten_opt_ins_from_one_address_raise_a_flag_with_evidence(csp):
    decided(csp, 10)
    [flag] = run_detectors("mass_affirmation_one_source")
    assert flag.csp == csp and flag.kind == "a" and flag.status == FlagStatus.OPEN
    assert flag.evidence["figures"]["sources"][0] == {
        "ip": "198.51.100.10", "decisions": 10, "premises": 0,
    }  # fmt: skip
    assert len(flag.evidence["samples"]) == 5
    assert flag.evidence["links"][0]["url"].startswith("/admin/affirmations/record/")


def test_nine_opt_ins_from_one_address_raise_nothing(csp):
    decided(csp, 9)
    assert run_detectors("mass_affirmation_one_source") == []


def test_opt_ins_spread_over_one_slash_24_are_caught_by_network(csp):
    decided(csp, 25, ip_for=lambda i: f"203.0.113.{i + 1}")
    [flag] = run_detectors("mass_affirmation_one_source")
    assert flag.evidence["figures"]["sources"] == [
        {"network": "203.0.113.0/24", "decisions": 25, "premises": 0}
    ]


def test_ipv6_addresses_are_grouped_by_slash_48(csp):
    decided(csp, 25, ip_for=lambda i: f"2001:db8:1:{i:x}::1")
    [flag] = run_detectors("mass_affirmation_one_source")
    assert flag.evidence["figures"]["sources"][0]["network"] == "2001:db8:1::/48"


def test_a_network_finding_samples_opt_ins_from_that_network(csp):
    decided(csp, 3, ip_for=lambda i: f"192.0.2.{i + 1}")  # earlier rows, elsewhere
    decided(csp, 25, ip_for=lambda i: f"203.0.113.{i + 1}")
    [flag] = run_detectors("mass_affirmation_one_source")
    assert {row["ip"].rsplit(".", 1)[0] for row in flag.evidence["samples"]} == {"203.0.113"}


def test_mass_affirmation_samples_take_the_same_queries_for_any_number_of_csps(
    csp, other_csp, django_assert_num_queries
):
    detector = DETECTORS["mass_affirmation_one_source"]
    window = Window.containing(NOW, detector.window)
    decided(csp, 10)
    with CaptureQueriesContext(connection) as one_csp:
        assert len(detector.find(window, detector.thresholds)) == 1
    decided(other_csp, 10, ip_for=lambda i: "198.51.100.99")
    with django_assert_num_queries(len(one_csp)):
        findings = detector.find(window, detector.thresholds)
    assert [len(finding.samples) for finding in findings] == [5, 5]


def test_opt_ins_from_24_addresses_of_one_network_raise_nothing(csp):
    decided(csp, 24, ip_for=lambda i: f"203.0.113.{i + 1}")
    assert run_detectors("mass_affirmation_one_source") == []


def test_a_rerun_refreshes_the_flag_instead_of_adding_one(csp):
    decided(csp, 10)
    run_detectors("mass_affirmation_one_source")
    decided(csp, 2)
    [flag] = run_detectors("mass_affirmation_one_source", now=NOW + timedelta(minutes=15))
    assert flag.evidence["figures"]["sources"][0]["decisions"] == 12
    assert flag.last_seen_at == NOW + timedelta(minutes=15)


def test_a_dismissed_flag_is_not_raised_again_for_the_same_window(csp, admin_user):
    decided(csp, 10)
    [flag] = run_detectors("mass_affirmation_one_source")
    flag_dismiss(flag=flag, actor=Actor.staff(admin_user), reason="a university lab", now=NOW)
    assert run_detectors("mass_affirmation_one_source") == [flag]
    flag.refresh_from_db()
    assert flag.status == FlagStatus.DISMISSED


def test_each_csp_gets_its_own_flag(csp, other_csp):
    decided(csp, 10)
    decided(other_csp, 10)
    flags = run_detectors("mass_affirmation_one_source")
    assert {flag.csp_id for flag in flags} == {csp.pk, other_csp.pk}


# --- 2. the CSP affirming for the customer ---------------------------------------------------


def api_call(csp, ip, *, at=None, path="/api/v1/agreements/", status=201, method="POST",
             **fields):  # fmt: skip
    return ApiRequestLog.objects.create(
        csp=csp, ip=ip, method=method, path=path, status_code=status,
        created_at=at or NOW - timedelta(hours=1), **fields,
    )  # fmt: skip


def test_an_opt_in_from_the_address_of_the_csps_api_calls_raises_a_flag(csp):
    api_call(csp, "192.0.2.44", at=NOW - timedelta(days=3))
    decide(make_agreement(csp, premises=premises(3)), ip="192.0.2.44")
    [flag] = run_detectors("csp_affirms_for_customer")
    assert flag.evidence["figures"] == {
        "decisions": 1, "premises": 3, "addresses": 1, "from_api": 1, "from_ranges": 0,
    }  # fmt: skip


def test_an_opt_in_from_the_csps_registered_range_raises_a_flag(csp):
    csp.registered_ip_ranges = "10.1.0.0/16\n192.0.2.0/24"
    csp.save()
    decide(make_agreement(csp), ip="192.0.2.200")
    [flag] = run_detectors("csp_affirms_for_customer")
    assert flag.evidence["figures"]["from_ranges"] == 1


def test_opt_ins_from_other_addresses_raise_nothing(csp, other_csp):
    csp.registered_ip_ranges = "192.0.2.0/24"
    csp.save()
    api_call(other_csp, "198.51.100.10")  # another CSP's address is not this one's
    api_call(csp, "192.0.3.1")
    decide(make_agreement(csp), ip="198.51.100.10")
    decide(make_agreement(csp, email="b@example.com"), ip="192.0.3.2")
    assert run_detectors("csp_affirms_for_customer") == []


def test_the_csp_affirming_is_flagged_once_per_window(csp):
    api_call(csp, "192.0.2.44")
    decide(make_agreement(csp), ip="192.0.2.44")
    run_detectors("csp_affirms_for_customer")
    assert len(run_detectors("csp_affirms_for_customer")) == 1


# --- 3. addresses that are not the customer's -------------------------------------------------


def test_one_email_in_five_requests_raises_a_flag(csp):
    for _ in range(5):
        make_agreement(csp, email="Same.Person@example.com")
    [flag] = run_detectors("customer_email_not_customers")
    assert flag.evidence["figures"]["shared_emails"] == [
        {"email": "same.person@example.com", "requests": 5, "premises": 0,
         "residential_premises": 0}
    ]  # fmt: skip


def test_one_email_in_four_requests_raises_nothing(csp):
    for _ in range(4):
        make_agreement(csp, email="same@example.com")
    assert run_detectors("customer_email_not_customers") == []


def test_an_email_at_the_csps_own_domain_raises_a_flag(csp):
    make_agreement(csp, email="someone@Bright-Advice.example", premises=premises(2))
    [flag] = run_detectors("customer_email_not_customers")
    assert flag.evidence["figures"]["own_domain"] == [
        {"domain": "bright-advice.example", "requests": 1, "premises": 2}
    ]


def test_emails_at_other_or_public_domains_raise_nothing(csp):
    public = make_csp(legal_name="Gmail Advisors", contact_email="advisors@gmail.com",
                      notice_email="advisors@gmail.com")  # fmt: skip
    make_agreement(public, email="a.customer@gmail.com")
    make_agreement(csp, email="someone@bright-advice.example.org")
    assert run_detectors("customer_email_not_customers") == []


def test_the_email_detector_adds_no_duplicate_on_rerun(csp):
    make_agreement(csp, email="x@bright-advice.example")
    run_detectors("customer_email_not_customers")
    assert len(run_detectors("customer_email_not_customers")) == 1


# --- 4. inhumanly fast decisions --------------------------------------------------------------


def fast_opt_ins(csp, count, seconds):
    sent = NOW - timedelta(hours=1)
    for i in range(count):
        agreement = make_agreement(csp, email=f"c{i}@example.com", sent_at=sent)
        decide(agreement, ip=f"198.51.100.{i + 1}", at=sent + timedelta(seconds=seconds))


def test_five_opt_ins_within_seconds_of_the_email_raise_a_flag(csp):
    fast_opt_ins(csp, 5, seconds=12)
    [flag] = run_detectors("fast_decisions")
    assert flag.evidence["figures"] == {"fast_opt_ins": 5, "premises": 0}


def test_four_fast_opt_ins_or_five_slower_ones_raise_nothing(csp, other_csp):
    fast_opt_ins(csp, 4, seconds=12)
    fast_opt_ins(other_csp, 5, seconds=30)
    assert run_detectors("fast_decisions") == []


def test_opt_ins_seconds_after_a_reminder_count_as_fast(csp):
    sent = NOW - timedelta(days=2)
    for i in range(5):
        reminded = NOW - timedelta(hours=1)
        agreement = make_agreement(csp, email=f"r{i}@example.com", sent_at=sent,
                                   reminder_sent_at=reminded)  # fmt: skip
        decide(agreement, ip=f"198.51.100.{i + 1}", at=reminded + timedelta(seconds=5))
    assert len(run_detectors("fast_decisions")) == 1
    assert len(run_detectors("fast_decisions")) == 1


# --- 5. rejections ----------------------------------------------------------------------------


def outcomes(csp, **counts):
    for event, count in counts.items():
        decided(csp, count, RecordEvent(event), ip_for=lambda i: f"198.51.{i}.7")


def test_a_spam_rate_at_the_threshold_raises_a_flag_with_counts_apart(csp):
    outcomes(csp, opted_in=12, opted_out=3, reported_spam=1, timed_out=4)
    [flag] = run_detectors("rejections")
    figures = flag.evidence["figures"]
    assert (figures["timed_out"], figures["opted_out"], figures["reported_spam"]) == (4, 3, 1)
    assert figures["reported_spam_rate"] == 0.05 and figures["outcomes"] == 20
    assert "spam rate 5%" in flag.summary


def test_an_opt_out_rate_of_half_raises_a_flag(csp):
    outcomes(csp, opted_in=10, opted_out=10)
    [flag] = run_detectors("rejections")
    assert "opt-out rate 50%" in flag.summary


def test_rates_just_under_the_thresholds_raise_nothing(csp):
    outcomes(csp, opted_in=19, opted_out=19, timed_out=2)  # opt-outs 47.5 %, no spam
    assert run_detectors("rejections") == []


def test_too_few_outcomes_raise_nothing_whatever_the_rate(csp):
    outcomes(csp, reported_spam=19)
    assert run_detectors("rejections") == []


def test_the_rejections_flag_is_not_duplicated(csp):
    outcomes(csp, opted_in=10, opted_out=10)
    run_detectors("rejections")
    assert len(run_detectors("rejections")) == 1


# --- 6. authentication attempts -----------------------------------------------------------------


def attempts(csp, count, *, failed=0, ip="203.0.113.5", esi_id=lambda i: f"1044372{i:010d}"):
    PremiseAuthenticationAttempt.objects.bulk_create(
        PremiseAuthenticationAttempt(
            created_at=NOW - timedelta(minutes=5), csp=csp, ip=ip, esi_id=esi_id(i),
            meter_number="1", rep_certificate_number="10004", authenticated=i >= failed,
            failure_reason="unknown_esi_id" if i < failed else "",
        )
        for i in range(count)
    )  # fmt: skip


def test_a_high_failure_ratio_raises_a_flag_per_csp_and_per_ip(csp):
    set_thresholds("authentication_attempts", min_neighbouring_esi_ids=1000)
    attempts(csp, 50, failed=15)
    [flag] = run_detectors("authentication_attempts")
    figures = flag.evidence["figures"]
    assert figures["per_csp"][0]["failure_ratio"] == 0.3
    assert figures["per_ip"][0]["ip"] == "203.0.113.5"
    assert flag.evidence["samples"][0]["failure_reason"] == "unknown_esi_id"


def test_failures_just_under_the_ratio_or_volume_raise_nothing(csp, other_csp):
    attempts(csp, 50, failed=14, esi_id=lambda i: f"10443720000{i:06d}"[:17])
    # Every attempt failed, but 49 are too few to judge a ratio on.
    attempts(other_csp, 49, failed=49, ip="203.0.113.6", esi_id=lambda i: f"1044372{i * 7919:010d}")
    assert run_detectors("authentication_attempts") == []


def test_volume_alone_raises_a_flag(csp):
    set_thresholds("authentication_attempts", max_attempts_per_csp=30, max_attempts_per_ip=1000)
    attempts(csp, 30)
    [flag] = run_detectors("authentication_attempts")
    assert flag.evidence["figures"]["per_csp"][0]["attempts"] == 30


def test_volume_just_under_the_limits_raises_nothing(csp):
    set_thresholds("authentication_attempts", max_attempts_per_csp=30, max_attempts_per_ip=30)
    attempts(csp, 29)
    assert run_detectors("authentication_attempts") == []


def test_many_neighbouring_esi_ids_failing_is_enumeration(csp):
    set_thresholds("authentication_attempts", min_attempts_for_ratio=1000)
    attempts(csp, 20, failed=20, esi_id=lambda i: f"10443720000123{i:03d}")
    [flag] = run_detectors("authentication_attempts")
    assert flag.evidence["figures"]["enumeration"] == [
        {"csp_id": csp.pk, "block": "10443720000123", "esi_ids": 20}
    ]
    assert len(run_detectors("authentication_attempts")) == 1


def test_nineteen_neighbouring_failures_are_not_enumeration(csp):
    set_thresholds("authentication_attempts", min_attempts_for_ratio=1000)
    attempts(csp, 19, failed=19, esi_id=lambda i: f"10443720000123{i:03d}")
    assert run_detectors("authentication_attempts") == []


# --- 7. IP falsification --------------------------------------------------------------------------


def test_a_call_from_outside_the_registered_ranges_raises_a_flag(csp):
    api_call(csp, "192.0.2.9", status=403, error_code="ip_not_registered")
    [flag] = run_detectors("ip_falsification")
    assert flag.kind == "c"
    assert flag.evidence["figures"]["outside_calls"] == 1
    assert flag.evidence["samples"][0]["error_code"] == "ip_not_registered"


def test_a_forged_forwarding_header_raises_a_flag(csp):
    api_call(csp, "192.0.2.9", forwarded_header_untrusted=True)
    [flag] = run_detectors("ip_falsification")
    assert flag.evidence["figures"]["forged_headers"] == 1
    assert len(run_detectors("ip_falsification")) == 1


def test_ordinary_calls_raise_nothing(csp):
    api_call(csp, "192.0.2.9")
    api_call(csp, "192.0.2.9", status=403, error_code="csp_not_active")
    assert run_detectors("ip_falsification") == []


# --- 8. data without authorisation (b) and after termination (d) ---------------------------------


def data_call(csp, agreement_id, *, status=200, minutes_ago=5, kind="intervals"):
    """A logged data read, as the data endpoints write it (tests/data_access makes
    the same flags fire through real API calls)."""
    return DataAccessLog.objects.create(
        csp=csp, agreement_id=agreement_id, kind=kind, esi_id="10443720000000001",
        status_code=status, ip="192.0.2.9", created_at=NOW - timedelta(minutes=minutes_ago),
    )  # fmt: skip


def test_data_served_for_an_agreement_never_affirmed_raises_flag_b(csp):
    pending = make_agreement(csp)
    data_call(csp, pending.pk)
    [flag] = run_detectors("data_without_authorisation")
    assert flag.kind == "b" and flag.evidence["figures"] == {
        "served": 1, "refused": 0, "agreements": 1,
    }  # fmt: skip
    assert run_detectors("data_after_termination") == []


def test_data_without_authorisation_is_flagged_once_per_window(csp):
    pending = make_agreement(csp)
    data_call(csp, pending.pk)
    run_detectors("data_without_authorisation")
    data_call(csp, pending.pk, minutes_ago=1)
    [flag] = run_detectors("data_without_authorisation", now=NOW + timedelta(minutes=10))
    assert flag.evidence["figures"]["served"] == 2


def test_data_findings_of_many_csps_take_two_queries(csp, other_csp, django_assert_num_queries):
    for caller in (csp, other_csp):
        for i in range(7):  # seven unknown agreements each: samples are the first five
            data_call(caller, 900_000 + i)
    detector = DETECTORS["data_without_authorisation"]
    window = Window(NOW - timedelta(hours=1), NOW)
    with django_assert_num_queries(2):  # the findings with sample ids, then the sample rows
        findings = detector.find(window, detector.thresholds)
    assert {f.csp_id: f.figures["agreements"] for f in findings} == {csp.pk: 7, other_csp.pk: 7}
    for finding in findings:
        assert [row["agreement_id"] for row in finding.samples] == [900_000 + i for i in range(5)]


def test_data_requests_for_another_csps_agreement_are_flag_b(csp, other_csp):
    theirs = decide(make_agreement(other_csp), at=NOW - timedelta(days=1))
    for _ in range(10):
        data_call(csp, theirs.pk, status=404, kind="daily")
    [flag] = run_detectors("data_without_authorisation")
    assert flag.csp == csp and flag.evidence["figures"]["refused"] == 10


def test_data_for_an_active_agreement_or_few_refusals_raise_nothing(csp):
    active = decide(make_agreement(csp), at=NOW - timedelta(days=1))
    data_call(csp, active.pk)
    pending = make_agreement(csp, email="p@example.com")
    for _ in range(9):
        data_call(csp, pending.pk, status=409)
    api_call(csp, "192.0.2.9", path=f"/api/v1/agreements/{pending.pk}/", status=200)
    assert run_detectors("data_without_authorisation") == []
    assert run_detectors("data_after_termination") == []


def end(agreement, *, by, at):
    from affirmations.models import Agreement

    Agreement.objects.filter(pk=agreement.pk).update(status="terminated", ended_at=at, ended_by=by)


def test_data_after_the_customer_ended_the_agreement_raises_flag_d(csp):
    agreement = decide(make_agreement(csp), at=NOW - timedelta(days=1))
    end(agreement, by=EndedBy.CUSTOMER, at=NOW - timedelta(minutes=10))
    data_call(csp, agreement.pk, minutes_ago=20)  # before the end: fine
    data_call(csp, agreement.pk, minutes_ago=5, kind="monthly")
    [flag] = run_detectors("data_after_termination")
    assert flag.kind == "d" and flag.evidence["figures"]["served"] == 1
    assert run_detectors("data_without_authorisation") == []
    assert len(run_detectors("data_after_termination")) == 1


def test_data_after_the_committee_revoked_the_agreement_is_flag_b(csp):
    agreement = decide(make_agreement(csp), at=NOW - timedelta(days=1))
    end(agreement, by=EndedBy.COMMITTEE, at=NOW - timedelta(minutes=30))
    data_call(csp, agreement.pk)
    assert run_detectors("data_after_termination") == []
    [flag] = run_detectors("data_without_authorisation")
    assert flag.evidence["samples"][0]["kind"] == "intervals"


def test_nine_refused_requests_after_termination_raise_nothing(csp):
    agreement = decide(make_agreement(csp), at=NOW - timedelta(days=1))
    end(agreement, by=EndedBy.CSP, at=NOW - timedelta(minutes=30))
    for _ in range(9):
        data_call(csp, agreement.pk, status=409)
    assert run_detectors("data_after_termination") == []


# --- settings ---------------------------------------------------------------------


def test_a_disabled_detector_raises_nothing(csp):
    detectors_run(now=NOW - timedelta(days=30))
    DetectorSetting.objects.filter(name="mass_affirmation_one_source").update(enabled=False)
    decided(csp, 10)
    assert run_detectors("mass_affirmation_one_source") == []


def test_thresholds_with_unknown_names_or_non_numbers_are_refused():
    from django.core.exceptions import ValidationError

    setting = DetectorSetting(name="fast_decisions", window=timedelta(hours=1),
                              thresholds={"max_seconds": "ten", "other": 1})  # fmt: skip
    with pytest.raises(ValidationError) as error:
        setting.full_clean()
    messages = error.value.message_dict["thresholds"]
    assert any("Unknown threshold 'other'" in m for m in messages)
    assert any("max_seconds must be a number" in m for m in messages)
    assert any("Missing threshold 'min_fast_opt_ins'" in m for m in messages)


# --- premises, not just agreements (issue 9, item 6) -------------------------------------------


def opt_ins_with_premises(csp, sizes, ip="198.51.100.10"):
    return [
        decide(make_agreement(csp, email=f"home{i}@example.com", premises=premises(size)), ip=ip)
        for i, size in enumerate(sizes)
    ]


def test_three_opt_ins_enrolling_thirty_homes_from_one_address_raise_a_flag(csp):
    opt_ins_with_premises(csp, [10, 10, 10])
    [flag] = run_detectors("mass_affirmation_one_source")
    assert flag.evidence["figures"]["sources"] == [
        {"ip": "198.51.100.10", "decisions": 3, "premises": 30}
    ]
    assert flag.summary == "3 opt-ins (30 residential premises) from 198.51.100.10"


def test_opt_ins_enrolling_twenty_nine_homes_from_one_address_raise_nothing(csp):
    opt_ins_with_premises(csp, [10, 10, 9])
    assert run_detectors("mass_affirmation_one_source") == []


def test_large_commercial_premises_do_not_count_towards_mass_affirmation(csp):
    agreements = opt_ins_with_premises(csp, [10, 10, 10])
    AgreementPremise.objects.filter(agreement=agreements[0]).update(large_commercial=True)
    assert run_detectors("mass_affirmation_one_source") == []


def test_one_email_for_twenty_homes_over_two_requests_raises_a_flag(csp):
    for size in (10, 10):
        make_agreement(csp, email="landlord@example.com", premises=premises(size))
    [flag] = run_detectors("customer_email_not_customers")
    assert flag.evidence["figures"]["shared_emails"] == [
        {"email": "landlord@example.com", "requests": 2, "premises": 20,
         "residential_premises": 20}
    ]  # fmt: skip
    assert flag.summary == "one email in 2 requests (20 premises)"


def test_one_email_for_nineteen_homes_raises_nothing(csp):
    for size in (10, 9):
        make_agreement(csp, email="landlord@example.com", premises=premises(size))
    assert run_detectors("customer_email_not_customers") == []


def test_the_premise_thresholds_are_added_to_settings_rows_seeded_before_them(csp):
    detectors_run(now=NOW - timedelta(days=30))
    staff_values = {"min_decisions_per_ip": 4, "min_decisions_per_network": 25}
    DetectorSetting.objects.filter(name="mass_affirmation_one_source").update(
        thresholds=staff_values
    )
    decided(csp, 4)
    [flag] = run_detectors("mass_affirmation_one_source")
    setting = DetectorSetting.objects.get(name="mass_affirmation_one_source")
    assert setting.thresholds == {**staff_values, "min_premises_per_ip": 30,
                                  "min_premises_per_network": 75}  # fmt: skip
    assert flag.evidence["thresholds"]["min_decisions_per_ip"] == 4


# --- 9. many residential premises in one request ----------------------------------------------


def test_a_request_for_eleven_homes_raises_a_flag_with_evidence(csp):
    agreement = make_agreement(csp, email="Jane.Doe@example.com", premises=premises(11))
    [flag] = run_detectors("many_residential_premises")
    assert (flag.csp, flag.kind, flag.severity) == (csp, "a", "high")
    assert flag.evidence["figures"] == {
        "agreements": [{"agreement_id": agreement.pk, "premises": 11}],
        "requests": 1, "largest": 11,
    }  # fmt: skip
    [sample] = flag.evidence["samples"]
    assert (sample["id"], sample["premises_count"]) == (agreement.pk, 11)
    assert sample["customer_email"] == "J***@example.com"
    assert flag.summary == "1 request(s) for more than 10 residential premises (largest: 11)"


def test_a_request_for_ten_homes_raises_nothing(csp):
    make_agreement(csp, premises=premises(10))
    assert run_detectors("many_residential_premises") == []


def test_large_commercial_premises_do_not_count_towards_the_maximum(csp):
    agreement = make_agreement(csp, premises=premises(11))
    AgreementPremise.objects.filter(agreement=agreement).filter(
        pk__in=AgreementPremise.objects.filter(agreement=agreement).values("pk")[:1]
    ).update(large_commercial=True)
    assert run_detectors("many_residential_premises") == []


def test_staff_set_the_maximum_of_premises_per_residential_request(csp):
    set_thresholds("many_residential_premises", max_premises_per_residential_agreement=2)
    make_agreement(csp, premises=premises(3))
    assert len(run_detectors("many_residential_premises")) == 1


def test_many_premises_are_flagged_once_per_window(csp):
    make_agreement(csp, premises=premises(11))
    run_detectors("many_residential_premises")
    assert len(run_detectors("many_residential_premises", now=NOW + timedelta(minutes=15))) == 1


# --- 10. renewals sent to another address ------------------------------------------------------


def renewal_requested(csp, email, *, agreement=None):
    """A real renewal request (the service) of an active agreement of ``csp``."""
    agreement = agreement or decide(
        make_agreement(csp, email=f"owner{Agreement.objects.count()}@example.com"),
        at=NOW - timedelta(days=330),  # a 12-month term in its last 60 days: renewable
    )
    return renewal_service(agreement=agreement, customer_email=email, actor=Actor.csp(csp),
                           now=NOW - timedelta(minutes=10))  # fmt: skip


def test_three_renewals_sent_to_new_addresses_raise_a_flag_with_masked_addresses(csp):
    for i in range(3):
        renewal_requested(csp, f"renewals{i}@csp-mailbox.example")
    [flag] = run_detectors("renewals_to_new_address")
    assert flag.evidence["figures"] == {"renewals": 3}
    samples = flag.evidence["samples"]
    assert [row["sent_to"] for row in samples] == ["r***@csp-mailbox.example"] * 3
    assert {row["affirmed_email"] for row in samples} == {"o***@example.com"}
    assert all(row["agreement_id"] for row in samples)
    assert "renewals0" not in json.dumps(flag.evidence)


def test_two_renewals_to_new_addresses_or_any_to_the_affirmed_one_raise_nothing(csp):
    for i in range(2):
        renewal_requested(csp, f"renewals{i}@csp-mailbox.example")
    for i in range(3):
        agreement = decide(make_agreement(csp, email=f"same{i}@example.com"),
                           at=NOW - timedelta(days=330))  # fmt: skip
        renewal_requested(csp, f"SAME{i}@example.com", agreement=agreement)
    assert run_detectors("renewals_to_new_address") == []


def test_renewals_to_new_addresses_are_flagged_once_per_window(csp):
    for i in range(3):
        renewal_requested(csp, f"renewals{i}@csp-mailbox.example")
    run_detectors("renewals_to_new_address")
    assert len(run_detectors("renewals_to_new_address", now=NOW + timedelta(hours=1))) == 1


def test_a_renewal_sent_to_the_csps_own_domain_raises_the_email_flag(csp):
    renewal_requested(csp, "renewals@Bright-Advice.example")
    [flag] = run_detectors("customer_email_not_customers")
    assert flag.evidence["figures"]["own_domain_renewals"] == [
        {"domain": "bright-advice.example", "renewals": 1}
    ]
    assert flag.summary == "1 renewals sent to the CSP's own domain"


def test_a_renewal_sent_to_another_domain_raises_no_email_flag(csp):
    renewal_requested(csp, "renewals@bright-advice.example.org")
    assert run_detectors("customer_email_not_customers") == []
