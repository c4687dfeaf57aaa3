"""The record (R13): append-only, hash-chained, checked by verify_records."""

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction

from affirmations.models import Record, RecordEvent
from affirmations.records import record_append, records_verify
from smt_portal.actors import Actor

from .conftest import NOW, request_agreement, residential

pytestmark = pytest.mark.django_db

on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the trigger exists on PostgreSQL only"
)


def _some_records(csp):
    request_agreement(csp, residential())
    request_agreement(csp, residential())
    return list(Record.objects.order_by("id"))


def _behind_the_orms_back(sql, params):
    """Run SQL as an intruder with database rights would: trigger disabled."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Deferred foreign-key checks of this test's inserts must fire
            # before the table can be altered.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(
                "ALTER TABLE affirmations_record DISABLE TRIGGER affirmations_record_append_only"
            )
        cursor.execute(sql, params)


def test_verify_records_accepts_an_intact_chain(active_csp, capsys):
    records = _some_records(active_csp)
    call_command("verify_records")
    assert f"{len(records)} records" in capsys.readouterr().out
    assert records[0].previous_hash == "0" * 64
    assert all(b.previous_hash == a.hash for a, b in zip(records, records[1:], strict=False))


def test_a_row_changed_behind_the_orms_back_is_named_by_verify_records(active_csp):
    records = _some_records(active_csp)
    broken = records[2]
    _behind_the_orms_back(
        "UPDATE affirmations_record SET actor = 'someone else' WHERE id = %s", [broken.pk]
    )

    with pytest.raises(CommandError, match=rf"record #{broken.pk}\b"):
        call_command("verify_records")
    assert records_verify().first_broken_id == broken.pk


def test_a_deleted_row_is_caught_by_the_next_rows_link(active_csp):
    records = _some_records(active_csp)
    _behind_the_orms_back("DELETE FROM affirmations_record WHERE id = %s", [records[1].pk])
    assert records_verify().first_broken_id == records[2].pk


def test_the_orm_refuses_to_change_or_delete_a_record(active_csp):
    record = _some_records(active_csp)[0]
    with pytest.raises(PermissionError):
        Record.objects.filter(pk=record.pk).update(actor="x")
    with pytest.raises(PermissionError):
        Record.objects.filter(pk=record.pk).delete()
    with pytest.raises(PermissionError):
        record.save()
    with pytest.raises(PermissionError):
        record.delete()


@on_postgresql
def test_postgresql_refuses_update_and_delete_whoever_asks(active_csp):
    record = _some_records(active_csp)[0]
    for sql in (
        "UPDATE affirmations_record SET actor = 'x' WHERE id = %s",
        "DELETE FROM affirmations_record WHERE id = %s",
    ):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(sql, [record.pk])
    assert records_verify().intact


def test_records_carry_who_from_where_and_what(active_csp):
    actor = Actor.customer(ip="2001:DB8::1", user_agent="Mozilla/5.0 " + "x" * 600)
    record = record_append(
        event=RecordEvent.OTHER, actor=actor, now=NOW, csp=active_csp, details={"n": 1}
    )
    stored = Record.objects.get(pk=record.pk)
    assert (stored.actor_type, stored.ip, len(stored.user_agent)) == (
        "customer",
        "2001:db8::1",
        500,
    )
    assert records_verify().intact


def test_a_sweep_sized_batch_keeps_the_chain_intact_and_reads_back_as_written(active_csp):
    from affirmations.records import COPY_THRESHOLD, Entry, records_append_many

    request_agreement(active_csp, residential())
    entries = [
        Entry(RecordEvent.TIMED_OUT, None, active_csp.pk, {"n": n, "note": "tab\there"})
        for n in range(COPY_THRESHOLD + 50)
    ]
    records_append_many(
        entries=entries, actor=Actor.customer(ip="2001:DB8::1", user_agent="ua"), now=NOW
    )

    check = records_verify()
    assert check.intact, check.problem
    newest = Record.objects.order_by("-id").first()
    assert newest.details == {"n": COPY_THRESHOLD + 49, "note": "tab\there"}
    assert newest.ip == "2001:db8::1"
    assert Record.objects.filter(event=RecordEvent.TIMED_OUT).count() == COPY_THRESHOLD + 50
