"""Exports of the record (R13) for regulators: CSV and JSON, streamed.

Rows go out chain by chain, each in its order (``chain``, ``seq``), with
their hashes and hash version, so whoever receives an export can re-check the
links between consecutive rows of a chain themselves (from the JSON
export: the CSV neutralises cells a spreadsheet would run as formulas).
"""

import json

from django.core.serializers.json import DjangoJSONEncoder

from smt_portal.csv_export import csv_lines

from .models import Record

FIELDS = (
    "id", "chain", "seq", "hash_version", "created_at", "event", "agreement_id", "csp_id",
    "actor_type", "actor", "ip", "user_agent", "details", "previous_hash", "hash",
)  # fmt: skip


def records_for(*, agreement_id=None, esi_id=None, csp_id=None):
    """The records of one agreement, of every agreement covering one ESI ID, or of one CSP."""
    records = Record.objects.order_by("chain", "seq")
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


def records_csv(records):
    """CSV lines, header first; ``details`` as JSON text.

    Text that a spreadsheet would run as a formula (a user agent beginning
    with ``=``) gets a leading apostrophe (``smt_portal.csv_export``), so a
    re-check of the hashes reads the JSON export, which is exact.
    """
    return csv_lines(FIELDS, (_csv_row(row) for row in _rows(records)))


def _csv_row(row):
    row["details"] = json.dumps(row["details"], sort_keys=True, cls=DjangoJSONEncoder)
    return [row[field] for field in FIELDS]


def records_json(records):
    """A JSON array, one record per line."""
    yield "[\n"
    for index, row in enumerate(_rows(records)):
        yield ("" if index == 0 else ",\n") + json.dumps(row, cls=DjangoJSONEncoder)
    yield "\n]\n"
