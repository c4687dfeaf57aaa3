"""The record against someone holding the application's database login (issue 16).

Each attack is done behind the ORM's back with raw SQL, as that login could do
it when it owned the table; verify_records must name each, per chain. The last
test shows the login the compose file gives the application cannot even start.
"""

import uuid

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction

from affirmations.checkpoints import record_checkpoint_seal
from affirmations.models import Record, RecordChainHead
from affirmations.records import GENESIS_HASH, record_chain_of, record_hash, records_verify

from .conftest import NOW, request_agreement, residential

pytestmark = pytest.mark.django_db

on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the trigger and roles exist on PostgreSQL only"
)


def _sql(sql, params=()):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _disable_trigger():
    if connection.vendor == "postgresql":
        # Deferred foreign-key checks of this test's inserts must fire first.
        _sql("SET CONSTRAINTS ALL IMMEDIATE")
        _sql("ALTER TABLE affirmations_record DISABLE TRIGGER affirmations_record_append_only")


def _enable_trigger():
    # The clever attacker puts the trigger back once done.
    if connection.vendor == "postgresql":
        _sql("ALTER TABLE affirmations_record ENABLE TRIGGER affirmations_record_append_only")


def _a_sealed_chain(csp, agreements=3):
    """A chain of 2 × agreements rows, sealed in a checkpoint; its rows."""
    for _ in range(agreements):
        request_agreement(csp, residential())
    record_checkpoint_seal(now=NOW)
    return list(Record.objects.filter(chain=record_chain_of(csp.pk)).order_by("seq"))


def _verify_fails():
    with pytest.raises(CommandError) as failure:
        call_command("verify_records")
    return str(failure.value)


@on_postgresql
def test_disabling_the_trigger_and_rewriting_an_ip_is_named(active_csp):
    rows = _a_sealed_chain(active_csp)
    victim = rows[1]
    _disable_trigger()
    _sql("UPDATE affirmations_record SET ip = '192.0.2.66' WHERE id = %s", [victim.pk])

    report = _verify_fails()

    assert "the trigger affirmations_record_append_only is disabled" in report
    chain = victim.chain
    assert f"chain {chain}: rewritten: record #{victim.pk} (seq 2)" in report


def test_a_row_deleted_in_the_middle_is_named(active_csp):
    rows = _a_sealed_chain(active_csp)
    _disable_trigger()
    _sql("DELETE FROM affirmations_record WHERE id = %s", [rows[2].pk])
    _enable_trigger()

    report = _verify_fails()

    assert (
        f"chain {rows[0].chain}: deleted in the middle: seq 3 missing before "
        f"record #{rows[3].pk} (seq 4)"
    ) in report
    assert records_verify().first_broken_id == rows[3].pk


def test_the_newest_rows_deleted_and_the_head_fixed_to_match_are_named_as_truncation(
    active_csp, other_csp
):
    rows = _a_sealed_chain(active_csp)
    request_agreement(other_csp, residential())
    kept = rows[-3]
    _disable_trigger()
    _sql("DELETE FROM affirmations_record WHERE chain = %s AND seq > %s", [kept.chain, kept.seq])
    _enable_trigger()
    RecordChainHead.objects.filter(chain=kept.chain).update(last_seq=kept.seq, last_hash=kept.hash)
    # The chain itself and its head now agree: only the checkpoint knows.
    report = _verify_fails()

    assert f"chain {kept.chain}: truncated: checkpoint #" in report
    assert f"signed seq {rows[-1].seq}, the chain ends at seq {kept.seq}" in report
    assert f"chain {record_chain_of(other_csp.pk)}:" not in report


def test_the_table_emptied_is_named_for_every_chain(active_csp, other_csp):
    _a_sealed_chain(active_csp, agreements=1)
    request_agreement(other_csp, residential())
    record_checkpoint_seal(now=NOW)
    chains = sorted({record_chain_of(active_csp.pk), record_chain_of(other_csp.pk)})
    if connection.vendor == "postgresql":
        _sql("SET CONSTRAINTS ALL IMMEDIATE")
        _sql("TRUNCATE affirmations_record")
    else:
        _sql("DELETE FROM affirmations_record")
    RecordChainHead.objects.update(last_seq=0, last_hash=GENESIS_HASH)

    report = _verify_fails()

    for chain in chains:
        assert f"chain {chain}: truncated: checkpoint #" in report
        assert "the chain ends at seq 0" in report


def test_a_row_rewritten_with_every_later_hash_and_the_head_recomputed_is_caught_by_the_checkpoint(
    active_csp,
):
    rows = _a_sealed_chain(active_csp)
    _disable_trigger()
    # Rewrite the opt-in's IP of seq 2, then re-chain everything after it.
    previous = rows[0].hash
    for row in rows[1:]:
        if row.seq == 2:
            row.ip = "198.51.100.7"
        row.previous_hash = previous
        row.hash = record_hash(row)
        _sql(
            "UPDATE affirmations_record SET ip = %s, previous_hash = %s, hash = %s WHERE id = %s",
            [row.ip, row.previous_hash, row.hash, row.pk],
        )
        previous = row.hash
    _enable_trigger()
    RecordChainHead.objects.filter(chain=rows[0].chain).update(last_hash=previous)

    report = _verify_fails()

    assert "broken link" not in report and "does not match its hash" not in report
    assert (
        f"chain {rows[0].chain}: rewritten: the row at seq {rows[-1].seq} is not the one "
        "checkpoint #"
    ) in report


@on_postgresql
def test_a_role_that_does_not_own_the_table_can_neither_disable_its_trigger_nor_truncate_it(
    active_csp,
):
    request_agreement(active_csp, residential())
    role = f"smt_record_app_{uuid.uuid4().hex[:8]}"
    _sql("SET CONSTRAINTS ALL IMMEDIATE")
    # As deploy/postgres-roles.sql grants the application: read and append, no more.
    _sql(f"CREATE ROLE {role} NOLOGIN")
    _sql(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}")
    _sql(f"SET LOCAL ROLE {role}")
    try:
        for attack in (
            "ALTER TABLE affirmations_record DISABLE TRIGGER affirmations_record_append_only",
            "ALTER TABLE affirmations_record DISABLE TRIGGER ALL",
        ):
            with pytest.raises(DatabaseError, match="must be owner"), transaction.atomic():
                _sql(attack)
        with pytest.raises(DatabaseError, match="permission denied"), transaction.atomic():
            _sql("TRUNCATE affirmations_record")
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            _sql("DELETE FROM affirmations_record")
        assert records_verify().intact
    finally:
        _sql("RESET ROLE")
