"""Appending to, and verifying, the hash-chained record (R13).

Every service that changes something a regulator may ask about calls
``record_append`` (or ``records_append_many`` for set-based sweeps) inside the
transaction of the change, so the record and the change commit together.
"""

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction

from .models import Record, RecordChainHead

GENESIS_HASH = "0" * 64
_IP_FIELD = Record._meta.get_field("ip")


@dataclass(frozen=True)
class Entry:
    event: str
    agreement_id: int | None = None
    csp_id: int | None = None
    details: dict | None = None


def _plain(details):
    # Round-trip through JSON so the hash is computed over exactly what the
    # database will return (Decimals and datetimes become strings).
    return json.loads(json.dumps(details or {}, cls=DjangoJSONEncoder, sort_keys=True))


def record_hash(record):
    """The SHA-256 over a record's content and the previous record's hash."""
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
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), cls=DjangoJSONEncoder)
    return hashlib.sha256(canonical.encode()).hexdigest()


def records_append_many(*, entries, actor, now):
    """Append several records in one locked step (used by set-based sweeps)."""
    if not entries:
        return []
    with transaction.atomic():
        head, _ = RecordChainHead.objects.select_for_update().get_or_create(
            pk=1, defaults={"last_hash": GENESIS_HASH}
        )
        previous = head.last_hash
        rows = []
        for entry in entries:
            row = Record(
                created_at=now,
                event=entry.event,
                agreement_id=entry.agreement_id,
                csp_id=entry.csp_id,
                actor_type=actor.type,
                actor=actor.label,
                # Stored as the database will return them (IPv6 normalised,
                # the agent cut to the column), so the hash verifies later.
                ip=_IP_FIELD.get_prep_value(actor.ip),
                user_agent=(actor.user_agent or "")[:500],
                details=_plain(entry.details),
                previous_hash=previous,
            )
            row.hash = record_hash(row)
            previous = row.hash
            rows.append(row)
        _insert(rows)
        RecordChainHead.objects.filter(pk=1).update(last_hash=previous)
    return rows


# Below this many rows the ORM's INSERT is as quick and keeps primary keys.
COPY_THRESHOLD = 100
_COLUMNS = (
    "created_at", "event", "agreement_id", "csp_id", "actor_type", "actor", "ip",
    "user_agent", "details", "previous_hash", "hash",
)  # fmt: skip


def _insert(rows):
    if connection.vendor != "postgresql" or len(rows) < COPY_THRESHOLD:
        Record.objects.bulk_create(rows, batch_size=1000)
        return
    # A sweep writes one record per agreement: COPY skips the ORM's per-value
    # preparation, which costs more than the database's own work here.
    statement = f"COPY {Record._meta.db_table} ({', '.join(_COLUMNS)}) FROM STDIN"
    with connection.cursor() as cursor, cursor.cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(
                (
                    row.created_at, row.event, row.agreement_id, row.csp_id, row.actor_type,
                    row.actor, row.ip, row.user_agent, json.dumps(row.details),
                    row.previous_hash, row.hash,
                )
            )  # fmt: skip


def record_append(*, event, actor, now, agreement=None, csp=None, details=None):
    entry = Entry(
        event=event,
        agreement_id=agreement.pk if agreement is not None else None,
        csp_id=csp.pk if csp is not None else (agreement.csp_id if agreement is not None else None),
        details=details,
    )
    return records_append_many(entries=[entry], actor=actor, now=now)[0]


@dataclass(frozen=True)
class ChainCheck:
    checked: int
    first_broken_id: int | None = None
    problem: str = ""

    @property
    def intact(self):
        return self.first_broken_id is None


def records_verify(*, chunk_size=5000):
    """Walk the chain in order; report the first row whose link or content
    does not match."""
    previous = GENESIS_HASH
    checked = 0
    for record in Record.objects.order_by("id").iterator(chunk_size=chunk_size):
        if record.previous_hash != previous:
            return ChainCheck(checked, record.pk, "does not follow the record before it")
        if record_hash(record) != record.hash:
            return ChainCheck(checked, record.pk, "content does not match its hash")
        previous = record.hash
        checked += 1
    head = RecordChainHead.objects.filter(pk=1).first()
    if head is not None and head.last_hash != previous:
        return ChainCheck(checked, -1, "the newest record is missing (chain head mismatch)")
    return ChainCheck(checked)
