"""Appending to, and verifying, the hash-chained record (R13).

Every service that changes something a regulator may ask about calls
``record_append`` (or ``records_append_many`` for set-based sweeps) inside the
transaction of the change, so the record and the change commit together.
"""

import hashlib
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC
from typing import NamedTuple

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction

from smt_portal.prepared_sql import planned_once_cursor

from .models import Record, RecordChainHead

GENESIS_HASH = "0" * 64
_IP_FIELD = Record._meta.get_field("ip")


class Entry(NamedTuple):
    """One record to append (a tuple: a sweep makes one per agreement)."""

    event: str
    agreement_id: int | None = None
    csp_id: int | None = None
    details: dict | None = None


def _plain(details):
    # Round-trip through JSON so the hash is computed over exactly what the
    # database will return (Decimals and datetimes become strings).
    return json.loads(json.dumps(details or {}, cls=DjangoJSONEncoder, sort_keys=True))


# The record is this many independent chains. Fixed: a row's chain is stored
# with it, but changing the number would move CSPs to other chains.
RECORD_CHAINS = 16


def record_chain_of(csp_id):
    """The chain a CSP's records go to; records of no CSP go to chain 0. An
    agreement's records carry its CSP, so they all share one chain."""
    return 0 if csp_id is None else csp_id % RECORD_CHAINS


def record_hash(record):
    """The SHA-256 over a record's content and the previous record's hash
    (version 2 rows: and their chain and place in it)."""
    return hashlib.sha256(record_canonical(record).encode()).hexdigest()


def record_canonical(record):
    """The text ``record_hash`` hashes: the record's content as canonical JSON."""
    content = {
        "created_at": record.created_at.astimezone(UTC).isoformat(),
        "event": record.event,
        "agreement": record.agreement_id,
        "csp": record.csp_id,
        "actor_type": record.actor_type,
        "actor": record.actor,
        "ip": record.ip,
        "user_agent": record.user_agent,
        "details": record.details,
        "previous_hash": record.previous_hash,
    }
    if record.hash_version >= 2:
        content.update(chain=record.chain, seq=record.seq, version=record.hash_version)
    return _dumps(content)


# What differs between the records of one append; the rest of a row's
# canonical JSON is the same for every row of an event.
_ROW_FIELDS = ("agreement", "chain", "csp", "details", "previous_hash", "seq")


class _Canonical:
    """``record_canonical`` for many rows of one append: the canonical JSON of
    a version 2 record of one event, actor and time, serialised once with the
    per-row fields left as ``%s`` holes, which the rows fill with their own
    values already rendered as JSON (``details`` by ``_DetailsTexts``)."""

    def __init__(self, *, event, actor_type, actor, ip, user_agent, now):
        # Marks no constant field can contain, replaced by the holes below.
        token = secrets.token_hex(16)
        marks = {name: f"{token}:{name}" for name in _ROW_FIELDS}
        content = {
            "created_at": now.astimezone(UTC).isoformat(),
            "event": event,
            "actor_type": actor_type,
            "actor": actor,
            "ip": ip,
            "user_agent": user_agent,
            "version": 2,
            **marks,
        }
        text = _dumps(content).replace("%", "%%")
        found = sorted((text.index(_dumps(mark)), name) for name, mark in marks.items())
        self.fields = tuple(name for _, name in found)
        assert self.fields == _ROW_FIELDS, self.fields  # noqa: S101 (sorted keys: the holes' order)
        for name, mark in marks.items():
            # ``previous_hash`` is a hex digest: its quotes stay in the template.
            hole = '"%s"' if name == "previous_hash" else "%s"
            text = text.replace(_dumps(mark), hole)
        self.template = text


class _CanonicalFiller:
    """One append's rows as canonical JSON: each row's values filled into its
    event's template (``_Canonical``, made once per event), with the previous
    hash and the seq given (values, or marks the database fills)."""

    def __init__(self, *, actor, ip, user_agent, now):
        self.actor, self.ip, self.user_agent, self.now = actor, ip, user_agent, now
        self.templates = {}
        self.details_text = _DetailsTexts()

    def __call__(self, entry, chain, previous, seq):
        """``(the details as JSON, the row's canonical JSON)``."""
        template = self.templates.get(entry.event)
        if template is None:
            template = self.templates[entry.event] = _Canonical(
                event=entry.event, actor_type=self.actor.type, actor=self.actor.label,
                ip=self.ip, user_agent=self.user_agent, now=self.now,
            ).template  # fmt: skip
        details = self.details_text(entry.details)
        canonical = template % (
            _scalar(entry.agreement_id),
            chain,
            _scalar(entry.csp_id),
            details,
            previous,
            seq,
        )
        return details, canonical


def _dumps(content):
    """Canonical JSON: sorted keys, no spaces, Django's types as strings."""
    return json.dumps(content, sort_keys=True, separators=(",", ":"), cls=DjangoJSONEncoder)


def _scalar(value):
    """An id as ``json.dumps`` writes it."""
    if value is None:
        return "null"
    return value if type(value) is int else _dumps(value)


class _DetailsTexts:
    """Each entry's details as the record stores and hashes them: the canonical
    JSON of ``_plain(details)``, computed once per distinct content (a sweep's
    rows mostly share theirs, often the very same dict)."""

    def __init__(self):
        self.last = self.last_text = None
        self.texts = {}

    def __call__(self, details):
        if details is not self.last or self.last_text is None:
            # ``_plain``'s first step; equal texts mean equal plain details.
            key = json.dumps(details or {}, cls=DjangoJSONEncoder, sort_keys=True)
            text = self.texts.get(key)
            if text is None:
                text = self.texts[key] = _dumps(json.loads(key))
            self.last, self.last_text = details, text
        return self.last_text


def _csp_ids_of_agreements(entries):
    from .models import Agreement

    wanted = {e.agreement_id for e in entries if e.csp_id is None and e.agreement_id is not None}
    if not wanted:
        return {}
    return dict(Agreement.objects.filter(pk__in=wanted).values_list("pk", "csp_id"))


def _locked_heads(chains):
    """Lock the heads of these chains, in chain order (so two writers of the
    same chains never deadlock), creating any missing."""
    query = RecordChainHead.objects.select_for_update().filter(chain__in=chains).order_by("chain")
    heads = {h.chain: h for h in query}
    if len(heads) < len(chains):
        RecordChainHead.objects.bulk_create(
            [RecordChainHead(chain=c, last_seq=0, last_hash=GENESIS_HASH) for c in chains],
            ignore_conflicts=True,
        )
        heads = {h.chain: h for h in query.all()}
    return heads


def records_append_many(*, entries, actor, now):
    """Append several records in one step (used by set-based sweeps): each
    entry goes to its CSP's chain; only those chains' heads are locked.

    Returns the rows in the order of ``entries``: ``Record``s with their
    primary keys below ``COPY_THRESHOLD`` entries; from it, a sequence making
    each a ``Record`` (no primary key) only when read."""
    if not entries:
        return []
    agreement_csps = _csp_ids_of_agreements(entries)
    by_chain = {}
    for index, entry in enumerate(entries):
        csp_id = entry.csp_id
        if csp_id is None and entry.agreement_id is not None:
            csp_id = agreement_csps.get(entry.agreement_id)
        by_chain.setdefault(record_chain_of(csp_id), []).append((index, entry))
    ip = _IP_FIELD.get_prep_value(actor.ip)
    user_agent = (actor.user_agent or "")[:500]
    large = len(entries) >= COPY_THRESHOLD
    # No savepoint inside the caller's transaction (two round trips saved on
    # every agreement request): nothing here is retried or caught, so any
    # failure leaves through this block, which marks the caller's transaction
    # for rollback, and the caller's change and its records commit together or
    # not at all. Called outside a transaction, this opens one as before.
    with transaction.atomic(savepoint=False):
        if not large and len(by_chain) == 1 and connection.vendor == "postgresql":
            # Every request's case (an agreement's records on its CSP's chain):
            # the head is locked, moved and the rows written by one statement.
            [(chain, chain_entries)] = by_chain.items()
            return _append_one_chain(chain, chain_entries, actor, ip, user_agent, now)
        heads = _locked_heads(sorted(by_chain))
        if large:
            rows, moves = _hashed_values(by_chain, heads, actor, ip, user_agent, now)
            _copy(rows, moves)
        else:
            rows, moves = _records(by_chain, heads, actor, ip, user_agent, now)
            _insert(rows, moves)
    placed = None
    if len(by_chain) > 1:
        # Callers read the rows in the order they gave the entries.
        placed = [i for _, chain_entries in sorted(by_chain.items()) for i, _ in chain_entries]
    if large:
        return _Rows(rows, placed)
    if placed is not None:
        in_order = [None] * len(rows)
        for index, row in zip(placed, rows, strict=True):
            in_order[index] = row
        rows = in_order
    return rows


def _records(by_chain, heads, actor, ip, user_agent, now):
    """Each entry as a ``Record``, hashed and chained (chain by chain), and
    each head's move."""
    rows, moves = [], []
    for chain, chain_entries in sorted(by_chain.items()):
        head = heads[chain]
        previous, seq = head.last_hash, head.last_seq
        for _, entry in chain_entries:
            seq += 1
            row = Record(
                created_at=now,
                event=entry.event,
                agreement_id=entry.agreement_id,
                csp_id=entry.csp_id,
                actor_type=actor.type,
                actor=actor.label,
                # Stored as the database will return them (IPv6 normalised,
                # the agent cut to the column), so the hash verifies later.
                ip=ip,
                user_agent=user_agent,
                details=_plain(entry.details),
                previous_hash=previous,
                chain=chain,
                seq=seq,
                hash_version=2,
            )
            row.hash = record_hash(row)
            previous = row.hash
            rows.append(row)
        moves.append((head.pk, previous, seq))
    return rows, moves


class _OneChainAppend:
    """The statement appending ``count`` records to one chain on PostgreSQL, in
    one round trip: the chain's head is locked (``FOR UPDATE``, as
    ``_locked_heads``), each row hashed by the database from its canonical
    JSON (``_Canonical``'s text, cut around the two holes only the head
    fills: the previous hash and the seq), the head moved past them and the
    rows inserted. Built once per count, prepared per connection.

    In READ COMMITTED a head that a concurrent writer moved and committed
    while this statement waited for its lock is read at its new version (the
    lock's re-check), and the head's UPDATE, joined to it, writes that
    version: the chain stays one line. No head row yet: nothing is written
    and no row is returned (the caller creates the head and runs it again)."""

    _built = {}

    @classmethod
    def of(cls, count):
        statement = cls._built.get(count)
        if statement is None:
            statement = cls._built[count] = cls(count)
        return statement

    def __init__(self, count):
        quote = connection.ops.quote_name
        heads, table = quote(RecordChainHead._meta.db_table), quote(Record._meta.db_table)
        steps = [
            f"h AS MATERIALIZED (SELECT id, last_hash, last_seq FROM {heads}"  # noqa: S608
            " WHERE chain = %s FOR UPDATE)"
        ]
        selects = []
        previous = "h"
        for number in range(1, count + 1):
            last_hash = "last_hash" if previous == "h" else "hash"
            last_seq = "last_seq" if previous == "h" else "seq"
            steps.append(
                f"r{number} AS MATERIALIZED (SELECT p.{last_hash}::text AS previous_hash,"  # noqa: S608
                f" p.{last_seq} + 1 AS seq, encode(sha256(convert_to(%s::text || p.{last_hash}"
                f" || %s::text || (p.{last_seq} + 1)::text || %s::text, 'UTF8')), 'hex') AS hash"
                f" FROM {previous} p)"
            )
            selects.append(
                "SELECT %s::timestamptz, %s::text, %s::bigint, %s::bigint, %s::text, %s::text,"  # noqa: S608
                " %s::inet, %s::text, %s::jsonb, r.previous_hash, r.hash, %s::smallint, r.seq,"
                f" 2 FROM r{number} r"
            )
            previous = f"r{number}"
        steps.append(
            f"moved AS (UPDATE {heads} t SET last_hash = r.hash, last_seq = r.seq"  # noqa: S608
            f" FROM h, {previous} r WHERE t.id = h.id)"
        )
        self.sql = (
            f"WITH {', '.join(steps)} INSERT INTO {table} ({', '.join(_COLUMNS)})"  # noqa: S608
            f" {' UNION ALL '.join(selects)} RETURNING id, previous_hash, hash, seq"
        )


def _append_one_chain(chain, chain_entries, actor, ip, user_agent, now):
    """A small append to one chain (PostgreSQL): ``_OneChainAppend``. Returns
    ``Record``s with their ids, in the order of the entries."""
    fill = _CanonicalFiller(actor=actor, ip=ip, user_agent=user_agent, now=now)
    actor_type, label = actor.type, actor.label
    parts, columns, details = [], [], []
    for _, entry in chain_entries:
        # Canonical JSON is ASCII (``ensure_ascii``): a NUL or \x01 never
        # occurs in it, so they mark the holes the database fills.
        text, canonical = fill(entry, chain, "\x00", "\x01")
        before, rest = canonical.split("\x00")
        middle, after = rest.split("\x01")
        parts += [before, middle, after]
        columns += [now, entry.event, entry.agreement_id, entry.csp_id, actor_type, label, ip,
                    user_agent, text, chain]  # fmt: skip
        details.append(text)
    statement = _OneChainAppend.of(len(chain_entries))
    params = [chain, *parts, *columns]
    written = _run_append(statement.sql, params)
    if not written:  # the chain's first record: its head does not exist yet
        RecordChainHead.objects.bulk_create(
            [RecordChainHead(chain=chain, last_seq=0, last_hash=GENESIS_HASH)],
            ignore_conflicts=True,
        )
        written = _run_append(statement.sql, params)
    written.sort(key=lambda row: row[3])
    if len(written) != len(chain_entries):
        raise RuntimeError(f"chain {chain}: {len(written)} of {len(chain_entries)} rows written")
    rows = []
    alias = connection.alias
    for (_, entry), text, (pk, previous, digest, seq) in zip(
        chain_entries, details, written, strict=True
    ):
        row = Record(
            pk=pk,
            created_at=now,
            event=entry.event,
            agreement_id=entry.agreement_id,
            csp_id=entry.csp_id,
            actor_type=actor_type,
            actor=label,
            ip=ip,
            user_agent=user_agent,
            details=json.loads(text),
            previous_hash=previous,
            hash=digest,
            chain=chain,
            seq=seq,
            hash_version=2,
        )
        row._state.adding = False
        row._state.db = alias
        rows.append(row)
    return rows


def _run_append(sql, params):
    with planned_once_cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _hashed_values(by_chain, heads, actor, ip, user_agent, now):
    """Each entry's column values, hashed and chained, as plain tuples in
    ``_COLUMNS`` order (chain by chain), and each head's move."""
    fill = _CanonicalFiller(actor=actor, ip=ip, user_agent=user_agent, now=now)
    sha256 = hashlib.sha256
    values, moves = [], []
    append = values.append
    actor_type, label = actor.type, actor.label
    for chain, chain_entries in sorted(by_chain.items()):
        head = heads[chain]
        # A hex digest (or the genesis zeros): as JSON, itself in quotes.
        previous, seq = head.last_hash, head.last_seq
        for _, entry in chain_entries:
            seq += 1
            event = entry.event
            details, canonical = fill(entry, chain, previous, seq)
            digest = sha256(canonical.encode()).hexdigest()
            append((now, event, entry.agreement_id, entry.csp_id, actor_type, label, ip,
                    user_agent, details, previous, digest, chain, seq, 2))  # fmt: skip
            previous = digest
        moves.append((head.pk, previous, seq))
    return values, moves


class _Rows(Sequence):
    """A large append's rows in the order of its entries, each made a
    ``Record`` only when read (a sweep's are never read)."""

    def __init__(self, values, placed):
        if placed is not None:
            in_order = [None] * len(values)
            for index, row in zip(placed, values, strict=True):
                in_order[index] = row
            values = in_order
        self._values = values

    def __len__(self):
        return len(self._values)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [_record_of(v) for v in self._values[index]]
        return _record_of(self._values[index])


def _record_of(values):
    fields = dict(zip(_COLUMNS, values, strict=True))
    fields["details"] = json.loads(fields["details"])
    return Record(**fields)


def _copy(values, moves):
    """Insert a large append's rows (``_hashed_values``) and move its heads."""
    _heads_move(moves)
    if connection.vendor != "postgresql":
        Record.objects.bulk_create([_record_of(v) for v in values], batch_size=1000)
        return
    # A sweep writes one record per agreement: COPY skips the ORM's per-value
    # preparation, which costs more than the database's own work here.
    statement = f"COPY {Record._meta.db_table} ({', '.join(_COLUMNS)}) FROM STDIN"
    with connection.cursor() as cursor, cursor.cursor.copy(statement) as copy:
        write_row = copy.write_row
        for row in values:
            write_row(row)


# From this many rows an append is hashed from a per-event template and
# written by COPY (PostgreSQL) from plain tuples; below it, ``Record``s are
# built and inserted with their primary keys.
COPY_THRESHOLD = 100
_COLUMNS = (
    "created_at", "event", "agreement_id", "csp_id", "actor_type", "actor", "ip",
    "user_agent", "details", "previous_hash", "hash", "chain", "seq", "hash_version",
)  # fmt: skip


def _heads_move(moves):
    for pk, last_hash, last_seq in moves:
        RecordChainHead.objects.filter(pk=pk).update(last_hash=last_hash, last_seq=last_seq)


def _insert(rows, moves):
    """Insert ``rows`` and move each locked head (``(pk, last_hash, last_seq)``)
    past them."""
    if connection.vendor != "postgresql":
        _heads_move(moves)
        Record.objects.bulk_create(rows, batch_size=1000)
        return
    _insert_moving_heads(rows, moves)


def _insert_moving_heads(rows, moves):
    # One round trip on every request that writes the record: the heads' UPDATE
    # rides in the INSERT's WITH (PostgreSQL runs a data-modifying WITH whether
    # or not the INSERT reads it). Values are sent as the COPY path sends them.
    table, heads = Record._meta.db_table, RecordChainHead._meta.db_table
    moved = ", ".join(["(%s::bigint, %s, %s::bigint)"] * len(moves))
    values = ", ".join(
        ["(%s::timestamptz, %s, %s::bigint, %s::bigint, %s, %s, %s::inet, %s, %s::jsonb,"
         " %s, %s, %s::smallint, %s::bigint, %s::smallint)"] * len(rows)
    )  # fmt: skip
    params = [value for move in moves for value in move]
    for row in rows:
        params += [
            row.created_at, row.event, row.agreement_id, row.csp_id, row.actor_type,
            row.actor, row.ip, row.user_agent, json.dumps(row.details),
            row.previous_hash, row.hash, row.chain, row.seq, row.hash_version,
        ]  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH moved AS (UPDATE {heads} h SET last_hash = m.last_hash, last_seq = m.last_seq"  # noqa: S608
            f" FROM (VALUES {moved}) m(id, last_hash, last_seq) WHERE h.id = m.id)"
            f" INSERT INTO {table} ({', '.join(_COLUMNS)}) VALUES {values} RETURNING id",
            params,
        )
        ids = [pk for (pk,) in cursor.fetchall()]
    for row, pk in zip(rows, ids, strict=True):
        row.pk = pk
        row._state.adding = False
        row._state.db = connection.alias


def record_append(*, event, actor, now, agreement=None, csp=None, details=None):
    entry = Entry(
        event=event,
        agreement_id=agreement.pk if agreement is not None else None,
        csp_id=csp.pk if csp is not None else (agreement.csp_id if agreement is not None else None),
        details=details,
    )
    return records_append_many(entries=[entry], actor=actor, now=now)[0]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the record: which chain (None: the table or the
    checkpoints as a whole), the row it shows at (if any), what kind and in words."""

    chain: int | None
    record_id: int | None
    kind: str  # rewritten, deleted, truncated, checkpoint, trigger
    message: str


@dataclass(frozen=True)
class ChainCheck:
    checked: int
    problems: tuple = ()
    chains: int = 0
    checkpoints: int = 0

    @property
    def intact(self):
        return not self.problems

    @property
    def first_broken_id(self):
        """The first row named broken; -1 when only heads, checkpoints or the
        trigger are."""
        if not self.problems:
            return None
        return next((p.record_id for p in self.problems if p.record_id is not None), -1)

    @property
    def problem(self):
        return self.problems[0].message if self.problems else ""


APPEND_ONLY_TRIGGERS = ("affirmations_record_append_only",)


def _trigger_problems():
    if connection.vendor != "postgresql":
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tgname, tgenabled FROM pg_trigger WHERE tgrelid = %s::regclass",
            [Record._meta.db_table],
        )
        found = dict(cursor.fetchall())
    problems = []
    for name in APPEND_ONLY_TRIGGERS:
        if name not in found:
            problems.append(Problem(None, None, "trigger", f"the trigger {name} is missing"))
        elif found[name] == "D":
            problems.append(
                Problem(
                    None, None, "trigger",
                    f"the trigger {name} is disabled (ALTER TABLE … DISABLE TRIGGER): "
                    "rows can be changed or deleted",
                )
            )  # fmt: skip
    return problems


class _Walk:
    """One chain walked in seq order."""

    def __init__(self, chain, wanted_seqs):
        self.chain = chain
        self.previous = GENESIS_HASH
        self.expected_seq = 1
        self.last_seq = 0
        self.last_id = None
        self.problem = None
        self.wanted = wanted_seqs
        self.hashes = {}  # seq -> hash, for the seqs a checkpoint names

    def see(self, record):
        if self.problem is None:
            if record.seq > self.expected_seq:
                missing = (
                    f"seq {self.expected_seq}"
                    if record.seq == self.expected_seq + 1
                    else f"seqs {self.expected_seq}–{record.seq - 1}"
                )
                self.problem = Problem(
                    self.chain, record.pk, "deleted",
                    f"chain {self.chain}: deleted in the middle: {missing} missing before "
                    f"record #{record.pk} (seq {record.seq})",
                )  # fmt: skip
            elif record.previous_hash != self.previous:
                self.problem = Problem(
                    self.chain, record.pk, "deleted",
                    f"chain {self.chain}: broken link: record #{record.pk} (seq {record.seq}) "
                    "does not follow the record before it",
                )  # fmt: skip
            elif record_hash(record) != record.hash:
                self.problem = Problem(
                    self.chain, record.pk, "rewritten",
                    f"chain {self.chain}: rewritten: record #{record.pk} (seq {record.seq}) "
                    "content does not match its hash",
                )  # fmt: skip
        if record.seq in self.wanted:
            self.hashes[record.seq] = record.hash
        self.previous = record.hash
        self.expected_seq = record.seq + 1
        self.last_seq = record.seq
        self.last_id = record.pk


def records_verify(*, chunk_size=5000, checkpoint_file=None):
    """Walk every chain in order and check it against its head row and against
    the signed checkpoints in ``checkpoint_file`` (default: the setting).

    Names, per chain, every kind of damage found: rows rewritten, deleted in
    the middle or cut off the end (truncation), checkpoint lines tampered with
    or unsigned, and the append-only trigger disabled."""
    from .checkpoints import checkpoints_read

    problems = _trigger_problems()
    checkpoints, checkpoint_problems = checkpoints_read(path=checkpoint_file)
    wanted = {}
    for checkpoint in checkpoints:
        for chain, (seq, _) in checkpoint.heads.items():
            wanted.setdefault(chain, set()).add(seq)

    walks = {}
    checked = 0
    rows = Record.objects.order_by("chain", "seq").iterator(chunk_size=chunk_size)
    for record in rows:
        walk = walks.get(record.chain)
        if walk is None:
            walk = walks[record.chain] = _Walk(record.chain, wanted.get(record.chain, set()))
        walk.see(record)
        checked += 1

    heads = {h.chain: h for h in RecordChainHead.objects.all()}
    for chain in sorted(set(walks) | set(heads) | set(wanted)):
        walk = walks.get(chain) or _Walk(chain, set())
        chain_problems = [walk.problem] if walk.problem else []
        head = heads.get(chain)
        if head is not None and (head.last_seq, head.last_hash) != (walk.last_seq, walk.previous):
            kind = "truncated" if head.last_seq > walk.last_seq else "rewritten"
            what = (
                "the newest rows are missing"
                if kind == "truncated"
                else "the newest row is not the one its head names"
            )
            chain_problems.append(
                Problem(
                    chain, None, kind,
                    f"chain {chain}: {'truncated' if kind == 'truncated' else 'head mismatch'}: "
                    f"its head names seq {head.last_seq}, the chain ends at seq {walk.last_seq} "
                    f"({what})",
                )
            )  # fmt: skip
        # The newest claim first; each kind named once per chain.
        named = set()
        signed = sorted(
            (c for c in checkpoints if chain in c.heads), key=lambda c: -c.heads[chain][0]
        )
        for checkpoint in signed:
            seq, signed_hash = checkpoint.heads[chain]
            if walk.last_seq < seq:
                if "truncated" in named:
                    continue
                named.add("truncated")
                chain_problems.append(
                    Problem(
                        chain, None, "truncated",
                        f"chain {chain}: truncated: {checkpoint.name} signed seq {seq}, "
                        f"the chain ends at seq {walk.last_seq}",
                    )
                )  # fmt: skip
            elif walk.hashes.get(seq) != signed_hash and "rewritten" not in named:
                named.add("rewritten")
                chain_problems.append(
                    Problem(
                        chain, None, "rewritten",
                        f"chain {chain}: rewritten: the row at seq {seq} is not the one "
                        f"{checkpoint.name} signed",
                    )
                )  # fmt: skip
        problems.extend(chain_problems)
    problems.extend(checkpoint_problems)
    return ChainCheck(checked, tuple(problems), len(walks), len(checkpoints))
