"""Creating an agreement costs a fixed, small number of round trips to the
database (issue 16): the staff-set rows are read with other rows, the record's
append opens no savepoint and moves its chain's head in its INSERT. The
behaviour those reads feed (holidays, term limits, spam cooldown) is unchanged."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from affirmations.models import Agreement, Holiday, Record, RecordEvent
from affirmations.records import record_append, records_verify
from affirmations.services import CooldownActive, agreement_report_spam
from csp_registry.key_cache import key_cache_enabled
from monitoring.models import MonitoringSettings
from outbox.models import OutboundEmail
from premises.models import TermPolicy
from smt_portal.actors import Actor

from .conftest import DEADLINE, NOW, large_commercial, premise_json, request_agreement, residential

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen")]

postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the round trips are PostgreSQL's"
)

URL = "/api/v1/agreements/"

# Inside a web request on PostgreSQL, once the staff-set rows exist: the key;
# the premises with the term policy; the authentication attempts; BEGIN; the
# provider's share lock with the duplicate check, the agreement's id reserved,
# the policy's renewal window, the holidays and the spam cooldown with its
# staff-set days; the agreement, its premises, its link and its email in one
# statement; the chain's head locked and moved and the two records hashed
# and inserted, in one statement; COMMIT; the API's request log. (The floor,
# affirmations/api/bench_floor.py, makes 13.)
ROUND_TRIPS = 9


def _body(*premises, email="jane.customer@example.com"):
    return {
        "premises": [premise_json(p) for p in premises],
        "customer_email": email,
        "term_months": 12,
    }


def _create_one_and_capture(csp_api):
    # The first request of a fresh database creates the term policy's row and
    # the key's first use; the steady state is the second.
    assert csp_api.post(URL, _body(residential()), format="json").status_code == 201
    body = _body(residential(), large_commercial())
    with CaptureQueriesContext(connection) as queries:
        response = csp_api.post(URL, body, format="json")
    assert response.status_code == 201, response.json()
    return response, [q["sql"] for q in queries.captured_queries]


@postgresql_only
def test_creating_an_agreement_makes_nine_round_trips_to_postgresql(csp_api):
    _, statements = _create_one_and_capture(csp_api)

    # The test runs inside a transaction, so the request's BEGIN and COMMIT
    # show as one SAVEPOINT and its RELEASE; any other savepoint is an extra.
    savepoints = [sql for sql in statements if sql.startswith("SAVEPOINT")]
    assert len(savepoints) == 1, statements
    # On Redis the process holds the key it read (csp_registry/key_cache.py).
    expected = ROUND_TRIPS - (1 if key_cache_enabled() else 0)
    assert len(statements) == expected, "\n".join(sql[:120] for sql in statements)


@postgresql_only
def test_the_agreement_its_premises_link_and_email_are_written_by_one_statement(csp_api):
    response, statements = _create_one_and_capture(csp_api)

    tables = ["affirmations_agreement", "affirmations_agreementpremise",
              "affirmations_agreementlink", "outbox_outboundemail"]  # fmt: skip
    writing = {
        table: [sql for sql in statements if f'INSERT INTO "{table}" (' in sql] for table in tables
    }
    assert len(writing["affirmations_agreement"]) == 1
    assert all(found == writing["affirmations_agreement"] for found in writing.values()), writing
    agreement = Agreement.objects.get(pk=response.json()["id"])
    assert agreement.premises.count() == 2
    assert agreement.links.get().expires_at == agreement.affirmation_expires_at
    email = OutboundEmail.objects.get(related_label=f"agreement:{agreement.pk}")
    assert email.deliver_until == agreement.affirmation_expires_at


@postgresql_only
def test_the_staff_set_rows_are_read_with_other_rows_not_each_on_its_own(csp_api):
    _, statements = _create_one_and_capture(csp_api)

    def reading(table):
        return [
            sql
            for sql in statements
            if sql.lstrip().startswith(("SELECT", "WITH")) and table in sql
        ]

    # The holidays and the policy's renewal window with the provider's lock,
    # the rest of the policy with the premises.
    [with_lock] = reading("affirmations_holiday")
    assert "FOR SHARE" in with_lock
    [with_premises] = [sql for sql in reading("premises_termpolicy") if sql != with_lock]
    assert "premises_premise" in with_premises
    # The spam cooldown (monitoring's request guard) with its staff-set days,
    # in the provider's lock statement too.
    assert reading("monitoring_monitoringsettings") == [with_lock]
    [heads] = [sql for sql in statements if "affirmations_recordchainhead" in sql]
    # Locked, moved and the records inserted by one statement.
    assert "FOR UPDATE" in heads and 'INSERT INTO "affirmations_record"' in heads


def test_a_holiday_staff_add_counts_in_the_next_requests_deadline(csp_api):
    first = csp_api.post(URL, _body(residential()), format="json")
    assert Agreement.objects.get(pk=first.json()["id"]).affirmation_expires_at == DEADLINE
    Holiday.objects.create(day=date(2026, 11, 26), name="Thanksgiving", created_at=NOW)

    second = csp_api.post(URL, _body(residential()), format="json")

    assert second.status_code == 201
    expires = Agreement.objects.get(pk=second.json()["id"]).affirmation_expires_at
    assert expires == DEADLINE + timedelta(days=1)


def test_a_term_policy_staff_change_counts_in_the_next_request(csp_api):
    assert csp_api.post(URL, _body(residential()), format="json").status_code == 201
    TermPolicy.objects.filter(pk=1).update(standard_max_months=6)

    refused = csp_api.post(URL, _body(residential()), format="json")

    assert refused.status_code == 422, refused.json()


def test_an_appended_record_comes_back_with_its_id_and_every_chain_still_verifies(active_csp):
    agreement = request_agreement(active_csp, residential())

    row = record_append(
        event=RecordEvent.OTHER, agreement=agreement, now=NOW,
        actor=Actor.csp(active_csp, key_prefix="abcd1234", ip="2001:DB8::1", user_agent="t"),
        details={"amount": Decimal("1.50"), "at": NOW, "note": "é"},
    )  # fmt: skip

    stored = Record.objects.get(pk=row.pk)
    assert (stored.hash, stored.seq, stored.chain) == (row.hash, row.seq, row.chain)
    assert stored.seq == 3  # the request's two records, then this one
    check = records_verify()
    assert check.intact, check.problem


def _reported_as_spam(csp, premise, *, at):
    agreement = request_agreement(csp, premise, now=at)
    agreement_report_spam(
        agreement=agreement, actor=Actor.customer(ip="198.51.100.7", user_agent="b"), now=at
    )
    return agreement


def test_the_cooldown_is_whole_days_of_24_hours_across_a_clock_change(active_csp):
    # Reported on a Wednesday before the clocks go back (1 November 2026); the
    # portal's ``now`` is UTC, so ten days are 240 hours, not ten wall-clock days.
    reported = datetime(2026, 10, 28, 14, 0, tzinfo=UTC)
    home = residential()
    _reported_as_spam(active_csp, home, at=reported)
    MonitoringSettings.current()
    MonitoringSettings.objects.update(spam_cooldown_days=10)

    with pytest.raises(CooldownActive):
        request_agreement(active_csp, home, now=reported + timedelta(days=10))
    later = reported + timedelta(days=10, microseconds=1)
    assert request_agreement(active_csp, home, now=later).pk


def test_a_cooldown_of_zero_days_holds_no_one_back(active_csp):
    home = residential()
    _reported_as_spam(active_csp, home, at=NOW)
    MonitoringSettings.current()
    MonitoringSettings.objects.update(spam_cooldown_days=0)

    assert request_agreement(active_csp, home, now=NOW).pk


def test_with_no_settings_row_the_cooldown_is_its_default_of_90_days(active_csp):
    home = residential()
    _reported_as_spam(active_csp, home, at=NOW)
    MonitoringSettings.objects.all().delete()

    with pytest.raises(CooldownActive):
        request_agreement(active_csp, home, now=NOW + timedelta(days=89))
    assert request_agreement(active_csp, home, now=NOW + timedelta(days=91)).pk


@postgresql_only
def test_the_requests_rows_and_its_records_are_statements_planned_once_per_connection(
    active_csp,
):
    for _ in range(3):
        request_agreement(active_csp, residential())
    request_agreement(active_csp, residential(), large_commercial())

    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [row[0] for row in cursor.fetchall()]
    rows = [sql for sql in prepared if sql.startswith('WITH i0 AS (INSERT INTO "affirmations_agr')]
    records = [sql for sql in prepared if "affirmations_recordchainhead" in sql]
    # One text per number of premises (1 and 2 here; earlier tests on this
    # connection may have prepared others), one for the record's two rows.
    assert len(rows) >= 2 and len(rows) == len(set(rows)), prepared
    assert any('INSERT INTO "affirmations_record"' in sql for sql in records), prepared
