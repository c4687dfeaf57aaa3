"""Premise authentication by ESI ID, meter number and REP certificate number (R3, R18)."""

from datetime import date, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from monitoring.models import PremiseAuthenticationAttempt
from premises.identifiers import (
    normalize_certificate_number,
    normalize_esi_id,
    normalize_meter_number,
)
from premises.models import CustomerClass, TermPolicy
from premises.services import PremiseAuthentication, premise_authenticate, premises_authenticate
from smt_portal.calendar import CENTRAL
from tests.factories import exchange_meter, make_csp, make_premise, make_rep

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 16, 9, 30, tzinfo=CENTRAL)
ESI_ID = "10443720001234567"
METER = "123456789"
CERT = "10004"


@pytest.fixture
def premise():
    return make_premise(esi_id=ESI_ID, meter_number=METER, rep=make_rep(CERT))


def authenticate(esi_id=ESI_ID, meter_number=METER, certificate=CERT, **kwargs):
    kwargs.setdefault("now", NOW)
    return premise_authenticate(
        esi_id=esi_id, meter_number=meter_number, rep_certificate_number=certificate, **kwargs
    )


def test_all_three_facts_matching_authenticates_the_premise(premise):
    result = authenticate()
    assert result.authenticated
    assert result.premise == premise
    assert result.large_commercial is False
    assert result.max_term_months == 12


def test_large_commercial_premise_may_agree_to_36_months():
    make_premise(
        esi_id=ESI_ID,
        meter_number=METER,
        rep=make_rep(CERT),
        customer_class=CustomerClass.COMMERCIAL,
        monthly_kwh={date(2026, 8, 1): 18000},
    )
    result = authenticate()
    assert (result.large_commercial, result.max_term_months) == (True, 36)


def test_the_term_limit_follows_the_policy(premise):
    TermPolicy.objects.update_or_create(pk=1, defaults={"standard_max_months": 24})
    assert authenticate().max_term_months == 24


def test_identifiers_as_customers_paste_them_authenticate_once_normalised(premise):
    result = authenticate(
        esi_id=normalize_esi_id("'1044372-0001 234 567"),
        meter_number=normalize_meter_number(" 123 456 789 "),
        certificate=normalize_certificate_number(" 10004 "),
    )
    assert result.authenticated


@pytest.mark.parametrize(
    ("esi_id", "meter_number", "certificate", "reason"),
    [
        ("10443720009999999", METER, CERT, "unknown_esi_id"),
        (ESI_ID, "987654321", CERT, "meter_mismatch"),
        (ESI_ID, METER, "10007", "rep_mismatch"),
        (ESI_ID, "987654321", "10007", "meter_mismatch"),
    ],
)
def test_a_failure_never_says_which_fact_was_wrong_but_the_record_does(
    premise, esi_id, meter_number, certificate, reason
):
    result = authenticate(esi_id, meter_number, certificate)
    assert result == PremiseAuthentication(authenticated=False)
    assert result.premise is None and result.max_term_months is None
    attempt = PremiseAuthenticationAttempt.objects.get()
    assert (attempt.authenticated, attempt.failure_reason) == (False, reason)


def test_a_17_digit_prefix_of_a_centerpoint_esi_id_does_not_authenticate():
    centerpoint = make_premise(
        esi_id="1008901000000000012345", meter_number=METER, rep=make_rep(CERT)
    )
    assert not authenticate(centerpoint.esi_id[:17]).authenticated
    assert authenticate(centerpoint.esi_id).authenticated


def test_a_removed_meter_no_longer_authenticates_and_its_replacement_does(premise):
    exchange_meter(premise=premise, new_number="AX0000042", on=date(2026, 10, 1))
    assert not authenticate(meter_number=METER).authenticated
    assert authenticate(meter_number="AX0000042").authenticated


def test_after_a_switch_of_rep_only_the_new_certificate_authenticates(premise):
    premise.rep_of_record = make_rep("10166X")
    premise.save()
    assert not authenticate(certificate=CERT).authenticated
    assert authenticate(certificate="10166X").authenticated


def test_a_premise_without_an_active_meter_never_authenticates(premise):
    premise.meters.update(removed_on=date(2026, 10, 1))
    assert not authenticate().authenticated
    assert not authenticate(meter_number="").authenticated


def test_every_attempt_is_recorded_with_who_when_where_and_what(premise):
    csp = make_csp()
    authenticate(csp=csp, ip="203.0.113.7")
    authenticate(meter_number="000000001", csp=csp, ip="2001:db8::1")
    ok, failed = PremiseAuthenticationAttempt.objects.order_by("pk")
    assert (ok.csp, ok.ip, ok.created_at, ok.premise) == (csp, "203.0.113.7", NOW, premise)
    assert (ok.esi_id, ok.meter_number, ok.rep_certificate_number) == (ESI_ID, METER, CERT)
    assert (ok.authenticated, ok.failure_reason) == (True, "")
    assert (failed.ip, failed.meter_number, failed.premise) == ("2001:db8::1", "000000001", premise)
    assert (failed.authenticated, failed.failure_reason) == (False, "meter_mismatch")


def test_an_unknown_esi_id_is_recorded_without_a_premise(premise):
    authenticate(esi_id="10443720009999999")
    attempt = PremiseAuthenticationAttempt.objects.get()
    assert (attempt.esi_id, attempt.premise) == ("10443720009999999", None)


def _queries_of(**facts):
    with CaptureQueriesContext(connection) as captured:
        authenticate(**facts)
    # The statements without their literal values: same shape on every path.
    return [query["sql"].split(" WHERE ")[0][:60] for query in captured.captured_queries]


def test_success_and_each_kind_of_failure_run_the_same_queries(premise):
    TermPolicy.current()
    success = _queries_of()
    assert len(success) == 2  # one joined lookup (the policy read with it), the attempt
    assert _queries_of(esi_id="10443720009999999") == success
    assert _queries_of(meter_number="000000001") == success
    assert _queries_of(certificate="10007") == success


def test_a_batch_returns_one_result_per_triple_in_order(premise):
    other = make_premise(rep=make_rep("10007"))
    other_meter = other.meters.get().number
    results = premises_authenticate(
        triples=[
            (ESI_ID, METER, CERT),
            ("10443720009999999", METER, CERT),
            (other.esi_id, other_meter, "10007"),
            (other.esi_id, other_meter, CERT),
        ],
        now=NOW,
    )
    assert [r.authenticated for r in results] == [True, False, True, False]
    assert [r.premise for r in results] == [premise, None, other, None]
    reasons = PremiseAuthenticationAttempt.objects.order_by("pk").values_list(
        "failure_reason", flat=True
    )
    assert list(reasons) == ["", "unknown_esi_id", "", "rep_mismatch"]


def test_a_batch_of_200_takes_one_lookup_and_bulk_inserts_the_attempts():
    premises = [make_premise() for _ in range(100)]
    triples = [
        (p.esi_id, p.meters.get().number, p.rep_of_record.certificate_number) for p in premises
    ]
    triples += [(p.esi_id, "000000001", "10004") for p in premises]
    policy = TermPolicy.current()
    with CaptureQueriesContext(connection) as captured:
        results = premises_authenticate(triples=triples, now=NOW, policy=policy)
    statements = [q["sql"].split()[0] for q in captured.captured_queries]
    assert statements.count("SELECT") == 1
    # SQLite caps parameters per statement, so 200 rows may need two INSERTs.
    assert 1 <= statements.count("INSERT") <= 2
    assert len(statements) <= 3
    assert sum(r.authenticated for r in results) == 100
    assert PremiseAuthenticationAttempt.objects.count() == 200


@pytest.mark.django_db(transaction=True)
def test_one_attempt_is_recorded_with_a_single_insert_outside_any_transaction():
    premise = make_premise(esi_id=ESI_ID, meter_number=METER, rep=make_rep(CERT))
    policy = TermPolicy.current()
    with CaptureQueriesContext(connection) as captured:
        result = authenticate(policy=policy)
    statements = [q["sql"].split()[0].upper() for q in captured.captured_queries]
    # No BEGIN/COMMIT around the insert: each is a round trip on every API call.
    assert statements == ["SELECT", "INSERT"]
    assert result.premise == premise
    assert PremiseAuthenticationAttempt.objects.get().authenticated


def test_the_policy_in_force_is_read_with_the_premises_and_decides_the_term(premise):
    policy = TermPolicy.current()
    policy.standard_max_months = 18
    policy.save()
    with CaptureQueriesContext(connection) as captured:
        result = premise_authenticate(
            esi_id=ESI_ID, meter_number=METER, rep_certificate_number=CERT, now=NOW
        )
    assert result.max_term_months == 18
    # No statement of its own: the lookup joined it.
    assert len(captured) == 2
    assert not any(q["sql"].startswith('SELECT "premises_termpolicy"') for q in captured)


def test_a_database_without_a_policy_row_authenticates_with_the_default_policy(premise):
    TermPolicy.objects.all().delete()
    result = premise_authenticate(
        esi_id=ESI_ID, meter_number=METER, rep_certificate_number=CERT, now=NOW
    )
    assert result.authenticated
    assert result.max_term_months == TermPolicy().standard_max_months
    assert TermPolicy.objects.filter(pk=1).exists()


def _prepared_statements():
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [row[0] for row in cursor.fetchall()]


postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="prepared statements are PostgreSQL's"
)


@postgresql_only
def test_the_lookup_is_planned_once_per_connection_whatever_the_number_of_premises(premise):
    other = make_premise()
    authenticate()
    premises_authenticate(
        triples=[(ESI_ID, METER, CERT), (other.esi_id, "x", "y"), ("10443720009999999", "x", "y")],
        now=NOW,
    )
    lookups = [s for s in _prepared_statements() if "premises_premise" in s]
    assert len(lookups) == 1  # one statement for one premise or three


@postgresql_only
def test_a_column_added_by_a_migration_does_not_break_the_prepared_lookup(premise):
    assert authenticate().authenticated
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the factories' deferred checks first
        cursor.execute("ALTER TABLE premises_premise ADD COLUMN added_later integer DEFAULT 7")
    assert authenticate().authenticated
    assert not authenticate(meter_number="000000001").authenticated


@postgresql_only
def test_without_prepared_statements_nothing_is_prepared(premise, settings):
    settings.DATABASE_PREPARED_STATEMENTS = False
    assert authenticate().authenticated
    assert not [s for s in _prepared_statements() if "premises_premise" in s]
