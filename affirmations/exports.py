"""Exports of the record (R13) for regulators: CSV and JSON, streamed.

Rows go out in chain order with their hashes, so whoever receives an export
can re-check the links between consecutive rows themselves.
"""

import csv
import json

from django.core.serializers.json import DjangoJSONEncoder

from .models import Record

FIELDS = (
    "id", "created_at", "event", "agreement_id", "csp_id", "actor_type", "actor", "ip",
    "user_agent", "details", "previous_hash", "hash",
)  # fmt: skip


def records_for(*, agreement_id=None, esi_id=None, csp_id=None):
    """The records of one agreement, of every agreement covering one ESI ID, or of one CSP."""
    records = Record.objects.order_by("id")
    if agreement_id is not None:
        records = records.filter(agreement_id=agreement_id)
    if esi_id:
        records = records.filter(agreement__premises__esi_id=esi_id)
    if csp_id is not None:
        records = records.filter(csp_id=csp_id)
    return records


def _rows(records):
    for row in records.values_list(*FIELDS).iterator(chunk_size=2000):
        yield dict(zip(FIELDS, row, strict=True))


class _Echo:
    def write(self, value):
        return value


def records_csv(records):
    """CSV lines, header first; ``details`` as JSON text."""
    writer = csv.writer(_Echo())
    yield writer.writerow(FIELDS)
    for row in _rows(records):
        row["details"] = json.dumps(row["details"], sort_keys=True, cls=DjangoJSONEncoder)
        yield writer.writerow([row[field] for field in FIELDS])


def records_json(records):
    """A JSON array, one record per line."""
    yield "[\n"
    for index, row in enumerate(_rows(records)):
        yield ("" if index == 0 else ",\n") + json.dumps(row, cls=DjangoJSONEncoder)
    yield "\n]\n"
