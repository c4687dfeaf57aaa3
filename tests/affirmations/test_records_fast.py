"""A large append's records hashed from a per-event template (issue 16, H34).

From ``COPY_THRESHOLD`` entries, ``records_append_many`` writes each row's
canonical JSON from a template serialised once per event, hashes it and hands
plain tuples to COPY. These tests hold every row's hash to what
``record_hash`` computes over the same content (equal SHA-256, equal bytes),
and ``records_verify`` to saying intact afterwards, and naming tampering.
"""

import json
import threading
from datetime import datetime
from decimal import Decimal

import pytest
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext

from affirmations import records as records_module
from affirmations.models import Record, RecordChainHead, RecordEvent
from affirmations.records import (
    COPY_THRESHOLD,
    GENESIS_HASH,
    Entry,
    record_append,
    record_canonical,
    record_chain_of,
    record_hash,
    records_append_many,
    records_verify,
)
from smt_portal.actors import Actor, ActorType

from .conftest import NOW, request_agreement, residential

pytestmark = pytest.mark.django_db

on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="SQLite builds Records for its bulk INSERT"
)

# Everything a template must serialise as json.dumps would: quotes, a
# percent sign (the template's own hole marker), a backslash, non-ASCII.
AGENT = 'Mözilla/5.0 (50% "quoted" \\ 漢字 ☃)'
ACTOR = Actor(ActorType.STAFF, 'Zoë "ops" 100%', "2001:DB8::0:1", AGENT)


def _varied_details(n, shared):
    """Details differing per row, sharing one dict, or equal as Python values
    (1 == 1.0 == True) but not as JSON."""
    return [
        shared,
        {"n": n, "note": "tab\there", "amount": Decimal("12.50"), "é": "ü 漢"},
        {
            "at": datetime(2026, 11, 23, 9, 0, 0, 123456, tzinfo=NOW.tzinfo),
            "nested": {"b": [1, 2.5, None], "a": True},
        },
        {2: "two", 10: "ten"},
        {"n": 1},
        {"n": 1.0},
        {"n": True},
        None,
        {},
        shared,
    ][n % 10]


def _entries(count, agreement, csps):
    shared = {"from_status": "pending_affirmation", "to_status": "timed_out"}
    entries = []
    for n in range(count):
        csp_id = csps[n % len(csps)]
        entries.append(
            Entry(
                RecordEvent.OTHER if n % 7 == 0 else RecordEvent.TIMED_OUT,
                agreement.pk if csp_id == agreement.csp_id and n % 2 else None,
                csp_id,
                _varied_details(n, shared),
            )
        )
    return entries


def _as_record_hash_sees_it(entry, row):
    """The row the small path builds for ``entry``, hashed by ``record_hash``."""
    return Record(
        created_at=NOW,
        event=entry.event,
        agreement_id=entry.agreement_id,
        csp_id=entry.csp_id,
        actor_type=ACTOR.type,
        actor=ACTOR.label,
        ip="2001:db8::1",
        user_agent=AGENT,
        details=json.loads(json.dumps(entry.details or {}, cls=DjangoJSONEncoder)),
        previous_hash=row.previous_hash,
        chain=row.chain,
        seq=row.seq,
        hash_version=2,
    )


def test_a_large_appends_rows_hash_the_bytes_record_hash_hashes_for_varied_entries(
    active_csp, other_csp
):
    agreement = request_agreement(active_csp, residential())
    # Chains 1, 2 and 0 (no CSP), crossing each other entry by entry.
    entries = _entries(COPY_THRESHOLD + 137, agreement, [active_csp.pk, None, other_csp.pk])

    rows = records_append_many(entries=entries, actor=ACTOR, now=NOW)

    assert len(rows) == len(entries)
    stored = {(r.chain, r.seq): r for r in Record.objects.filter(event__in=[
        RecordEvent.TIMED_OUT, RecordEvent.OTHER])}  # fmt: skip
    for entry, row in zip(entries, rows, strict=True):
        expected = _as_record_hash_sees_it(entry, row)
        assert row.hash == record_hash(expected), (entry, record_canonical(expected))
        assert row.chain == record_chain_of(entry.csp_id)
        as_read = stored[(row.chain, row.seq)]
        assert as_read.hash == row.hash == record_hash(as_read)
        assert as_read.details == expected.details
        assert (as_read.ip, as_read.user_agent) == ("2001:db8::1", AGENT)
    assert {r.chain for r in rows} == {
        record_chain_of(active_csp.pk),
        record_chain_of(other_csp.pk),
        0,
    }
    assert records_verify().intact


def test_a_large_append_continues_each_chain_and_the_record_verifies_until_a_row_is_rewritten(
    active_csp, other_csp
):
    agreement = request_agreement(active_csp, residential())
    record_append(event=RecordEvent.OTHER, actor=Actor.system(), now=NOW)  # chain 0 begun
    csps = [active_csp.pk, other_csp.pk, None]

    records_append_many(entries=_entries(2000, agreement, csps), actor=ACTOR, now=NOW)
    after = record_append(event=RecordEvent.OTHER, actor=Actor.system(), now=NOW, csp=other_csp)

    check = records_verify()
    assert check.intact, check.problem
    chain = record_chain_of(other_csp.pk)
    assert after.seq == Record.objects.filter(chain=chain).count()
    victim = Record.objects.get(chain=chain, seq=500)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(
                "ALTER TABLE affirmations_record DISABLE TRIGGER affirmations_record_append_only"
            )
        cursor.execute(
            "UPDATE affirmations_record SET details = %s WHERE id = %s",
            ['{"from_status": "active", "to_status": "timed_out"}', victim.pk],
        )
        if connection.vendor == "postgresql":
            cursor.execute(
                "ALTER TABLE affirmations_record ENABLE TRIGGER affirmations_record_append_only"
            )
    check = records_verify()
    assert not check.intact
    assert [p.message for p in check.problems] == [
        f"chain {chain}: rewritten: record #{victim.pk} (seq 500) content does not match its hash"
    ]


@on_postgresql
def test_a_large_append_builds_no_record_per_row_and_plains_no_details_per_row(
    active_csp, monkeypatch
):
    agreement = request_agreement(active_csp, residential())
    built, plained = [], []
    real_init, real_plain = Record.__init__, records_module._plain

    def counting_init(self, *args, **kwargs):
        built.append(1)
        real_init(self, *args, **kwargs)

    def counting_plain(details):
        plained.append(1)
        return real_plain(details)

    monkeypatch.setattr(Record, "__init__", counting_init)
    monkeypatch.setattr(records_module, "_plain", counting_plain)
    entries = _entries(5000, agreement, [active_csp.pk])

    rows = records_append_many(entries=entries, actor=ACTOR, now=NOW)

    assert (len(built), len(plained)) == (0, 0)
    # Read, a row becomes a Record as before.
    last = rows[-1]
    assert len(built) == 1
    assert last.seq == Record.objects.filter(chain=last.chain).count()


# --- A small append to one chain: head locked and moved, rows hashed and written at once (H36)


def test_a_small_appends_rows_hash_the_bytes_record_hash_hashes_for_varied_entries(active_csp):
    agreement = request_agreement(active_csp, residential())
    # One chain (the database hashes them on PostgreSQL), below the large path.
    entries = _entries(30, agreement, [active_csp.pk])

    rows = records_append_many(entries=entries, actor=ACTOR, now=NOW)

    stored = {r.pk: r for r in Record.objects.filter(chain=record_chain_of(active_csp.pk))}
    assert [r.seq for r in rows] == list(range(3, 33))  # after the request's two
    for entry, row in zip(entries, rows, strict=True):
        expected = _as_record_hash_sees_it(entry, row)
        assert row.hash == record_hash(expected), (entry, record_canonical(expected))
        assert row.details == expected.details
        as_read = stored[row.pk]
        assert as_read.hash == row.hash == record_hash(as_read)
        assert (as_read.seq, as_read.previous_hash) == (row.seq, row.previous_hash)
        assert (as_read.ip, as_read.user_agent) == ("2001:db8::1", AGENT)
        assert as_read.event == entry.event
    assert [r.previous_hash for r in rows[1:]] == [r.hash for r in rows[:-1]]
    check = records_verify()
    assert check.intact, check.problem


@on_postgresql
def test_a_small_append_to_one_chain_locks_moves_its_head_and_inserts_in_one_statement(
    active_csp, other_csp
):
    # The first record of a chain whose head does not exist yet, then the next.
    RecordChainHead.objects.filter(chain=record_chain_of(other_csp.pk)).delete()
    with CaptureQueriesContext(connection) as first:
        one = record_append(event=RecordEvent.OTHER, actor=ACTOR, now=NOW, csp=other_csp)
    with CaptureQueriesContext(connection) as queries:
        two, three = records_append_many(
            entries=[Entry(RecordEvent.OTHER, None, other_csp.pk, {"n": n}) for n in (2, 3)],
            actor=ACTOR,
            now=NOW,
        )

    [statement] = [q["sql"] for q in queries.captured_queries]
    assert "FOR UPDATE" in statement and 'INSERT INTO "affirmations_record"' in statement
    assert len(first.captured_queries) == 3  # nothing written, the head created, again
    assert (one.seq, two.seq, three.seq) == (1, 2, 3)
    assert (one.previous_hash, two.previous_hash, three.previous_hash) == (
        GENESIS_HASH, one.hash, two.hash,
    )  # fmt: skip
    head = RecordChainHead.objects.get(chain=record_chain_of(other_csp.pk))
    assert (head.last_seq, head.last_hash) == (3, three.hash)
    assert records_verify().intact


@on_postgresql
@pytest.mark.django_db(transaction=True)
def test_a_writer_waiting_for_its_chains_head_continues_from_the_row_the_holder_committed(
    active_csp,
):
    holding, release = threading.Event(), threading.Event()
    held, waited = [], []

    def hold_the_chain():
        try:
            with transaction.atomic():
                held.append(record_append(event=RecordEvent.OTHER, actor=ACTOR, now=NOW,
                                          csp=active_csp))  # fmt: skip
                holding.set()
                release.wait(10)
        finally:
            connections["default"].close()

    def wait_for_it():
        try:
            waited.extend(
                records_append_many(
                    entries=[
                        Entry(RecordEvent.OTHER, None, active_csp.pk, {"n": n}) for n in (1, 2)
                    ],
                    actor=ACTOR,
                    now=NOW,
                )  # fmt: skip
            )
        finally:
            connections["default"].close()

    holder = threading.Thread(target=hold_the_chain)
    holder.start()
    assert holding.wait(10)
    waiter = threading.Thread(target=wait_for_it)
    try:
        waiter.start()
        # The waiter's statement has begun (its snapshot taken) and waits for the head.
        while not _a_lock_is_awaited():
            assert waiter.is_alive()
    finally:
        release.set()
        holder.join()
        waiter.join()
    [first] = held
    assert [r.seq for r in waited] == [first.seq + 1, first.seq + 2]
    assert waited[0].previous_hash == first.hash
    chain = list(Record.objects.filter(chain=first.chain).order_by("seq"))
    assert [r.seq for r in chain] == list(range(1, len(chain) + 1))
    check = records_verify()
    assert check.intact, check.problem


def _a_lock_is_awaited():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE wait_event_type = 'Lock' AND datname = current_database()"
        )
        return cursor.fetchone()[0] > 0
