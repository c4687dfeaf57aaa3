"""The record as independent chains (issue 16): each CSP's records on one chain,
numbered without gaps, writers of different chains never waiting for each other."""

import threading
from collections import Counter

import pytest
from django.db import connection, connections, transaction

from affirmations.models import AgreementLink, Record, RecordChainHead, RecordEvent
from affirmations.records import (
    GENESIS_HASH,
    RECORD_CHAINS,
    Entry,
    record_append,
    record_chain_of,
    record_hash,
    records_append_many,
    records_verify,
)
from smt_portal.actors import Actor

from .conftest import NOW, request_agreement, residential

pytestmark = pytest.mark.django_db

on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="needs PostgreSQL's row locks"
)


def _chain(chain):
    return list(Record.objects.filter(chain=chain).order_by("seq"))


def test_each_csps_records_go_to_its_own_chain_numbered_from_one(active_csp, other_csp):
    assert record_chain_of(active_csp.pk) != record_chain_of(other_csp.pk)
    request_agreement(active_csp, residential())
    request_agreement(other_csp, residential())
    request_agreement(active_csp, residential())

    for csp in (active_csp, other_csp):
        rows = _chain(record_chain_of(csp.pk))
        assert {r.csp_id for r in rows} == {csp.pk}
        assert [r.seq for r in rows] == list(range(1, len(rows) + 1))
        assert rows[0].previous_hash == GENESIS_HASH
        assert all(b.previous_hash == a.hash for a, b in zip(rows, rows[1:], strict=False))
        head = RecordChainHead.objects.get(chain=record_chain_of(csp.pk))
        assert (head.last_seq, head.last_hash) == (rows[-1].seq, rows[-1].hash)
    assert len(_chain(record_chain_of(active_csp.pk))) == 4
    assert records_verify().intact


def test_records_of_no_csp_go_to_chain_zero():
    record = record_append(event=RecordEvent.OTHER, actor=Actor.system(), now=NOW)
    assert (record.chain, record.seq) == (0, 1)
    assert record_chain_of(None) == 0 and record_chain_of(RECORD_CHAINS) == 0


def test_an_agreements_records_stay_on_its_csps_chain_even_when_an_entry_names_no_csp(
    active_csp,
):
    agreement = request_agreement(active_csp, residential())
    [row] = records_append_many(
        entries=[Entry(RecordEvent.OTHER, agreement.pk, None, {})], actor=Actor.system(), now=NOW
    )
    assert row.chain == record_chain_of(active_csp.pk) != 0
    assert set(agreement.records.values_list("chain", flat=True)) == {row.chain}


def test_a_sweep_spanning_chains_returns_its_rows_in_entry_order_and_every_chain_verifies(
    active_csp, other_csp
):
    csps = [active_csp.pk, other_csp.pk, None]
    entries = [Entry(RecordEvent.TIMED_OUT, None, csps[n % 3], {"n": n}) for n in range(9)]

    rows = records_append_many(entries=entries, actor=Actor.system(), now=NOW)

    assert [r.details["n"] for r in rows] == list(range(9))
    assert [r.chain for r in rows[:3]] == [record_chain_of(c) for c in csps]
    # Two of the three may share a chain (a CSP's id a multiple of 16 shares chain 0).
    per_chain = Counter(record_chain_of(csps[n % 3]) for n in range(9))
    for chain, count in per_chain.items():
        assert [r.seq for r in _chain(chain)] == list(range(1, count + 1))
    assert records_verify().intact


def test_a_row_moved_to_another_chain_no_longer_matches_its_hash(active_csp):
    row = record_append(event=RecordEvent.OTHER, actor=Actor.system(), now=NOW, csp=active_csp)
    moved = Record(**{f.attname: getattr(row, f.attname) for f in Record._meta.concrete_fields})
    moved.chain = (row.chain + 1) % RECORD_CHAINS
    assert record_hash(moved) != row.hash


def test_rows_written_before_the_chains_existed_still_verify_as_version_one():
    old = Record(
        created_at=NOW,
        event=RecordEvent.OTHER,
        actor_type="system",
        actor="system",
        details={},
        previous_hash=GENESIS_HASH,
        chain=0,
        seq=1,
        hash_version=1,
    )
    old.hash = record_hash(old)
    Record.objects.bulk_create([old])
    RecordChainHead.objects.update_or_create(
        chain=0, defaults={"last_seq": 1, "last_hash": old.hash}
    )
    newer = record_append(event=RecordEvent.OTHER, actor=Actor.system(), now=NOW)

    assert (newer.seq, newer.previous_hash, newer.hash_version) == (2, old.hash, 2)
    check = records_verify()
    assert check.intact, check.problem


@on_postgresql
@pytest.mark.django_db(transaction=True)
def test_a_writer_of_one_chain_never_waits_for_a_writer_holding_another(active_csp, other_csp):
    holding, release = threading.Event(), threading.Event()

    def hold_active_csps_chain():
        try:
            with transaction.atomic():
                record_append(
                    event=RecordEvent.OTHER, actor=Actor.system(), now=NOW, csp=active_csp
                )
                holding.set()
                release.wait(10)
        finally:
            connections["default"].close()

    holder = threading.Thread(target=hold_active_csps_chain)
    holder.start()
    try:
        assert holding.wait(10)
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '1s'")
            row = record_append(
                event=RecordEvent.OTHER, actor=Actor.system(), now=NOW, csp=other_csp
            )
        assert row.chain == record_chain_of(other_csp.pk)

        # The same chain does wait: its head is locked.
        from django.db.utils import OperationalError

        with pytest.raises(OperationalError, match="lock timeout"), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '200ms'")
            record_append(event=RecordEvent.OTHER, actor=Actor.system(), now=NOW, csp=active_csp)
    finally:
        release.set()
        holder.join()
    assert records_verify().intact


@pytest.mark.django_db
def test_the_record_indexes_its_agreement_and_csp_once_each_through_the_composites():
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, Record._meta.db_table)
    indexed = [tuple(c["columns"]) for c in constraints.values() if c["index"]]
    # Each append writes every index: no single-column index the composites already cover.
    assert ("agreement_id",) not in indexed and ("csp_id",) not in indexed
    assert ("agreement_id", "id") in indexed and ("csp_id", "id") in indexed


@pytest.mark.django_db
@pytest.mark.parametrize(("model", "column"), [(Record, "hash"), (AgreementLink, "token_hash")])
def test_a_hash_is_indexed_once_for_equality_and_never_for_prefix_searches(model, column):
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, model._meta.db_table)
    # The unique constraint's own index, and no other (each insert writes every index).
    on_the_hash = [c for c in constraints.values() if c["columns"] == [column]]
    assert len(on_the_hash) == 1 and on_the_hash[0]["unique"], on_the_hash
