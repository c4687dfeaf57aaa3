"""Reference data of the premises app: TDUs, retail electric providers, term policy,
the sandbox premises (``premises.sandbox``).

``manage.py seed_reference_data`` calls ``seed_reference_data(stdout)`` in the
``seed`` module of every installed app; this is the premises one. Rows are
upserted by their natural key and never deleted: staff add and retire
providers in the admin, and a provider missing from the CSV may still be the
REP of record of some premise.
"""

import csv
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from premises.identifiers import normalize_certificate_number
from premises.models import RetailElectricProvider, Tdu, TermPolicy
from premises.sandbox import sandbox_premises_seed

DATA_DIR = Path(__file__).resolve().parent / "data"
TDU_CSV = DATA_DIR / "tdus.csv"
REP_CSV = DATA_DIR / "retail_electric_providers.csv"


@dataclass(frozen=True)
class UpsertCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    def __str__(self):
        return f"{self.created} created, {self.updated} updated, {self.unchanged} unchanged"


def seed_reference_data(stdout):
    tdus = tdus_load(path=TDU_CSV)
    stdout.write(f"TDUs: {tdus}")
    reps = reps_load(path=REP_CSV)
    stdout.write(f"Retail electric providers: {reps}")
    existed = TermPolicy.objects.filter(pk=1).exists()
    TermPolicy.current()
    stdout.write(f"Term policy: {'kept as it is' if existed else 'created with defaults'}")
    if settings.SANDBOX_SEED:
        created, days = sandbox_premises_seed(now=timezone.now())
        stdout.write(f"Sandbox premises: {created} created, {days} days of readings written")


def tdus_load(*, path):
    records = [
        {
            "code": row["code"].strip(),
            "name": row["name"].strip(),
            "puct_id": row["puct_id"].strip(),
            "esi_id_prefixes": " ".join(row["esi_id_prefixes"].split()),
            "esi_id_length": int(row["esi_id_length"]),
            "approx_meters": int(row["approx_meters"]),
        }
        for row in _read_csv(path)
    ]
    return _upsert(Tdu, "code", records)


def reps_load(*, path):
    # ``active`` is not in the CSV: it is the admin's to change, never the seed's.
    records = [
        {
            "certificate_number": normalize_certificate_number(row["certificate_number"]),
            "legal_name": row["legal_name"].strip(),
            "dba_names": row["dba_names"].strip(),
            "city": row["city"].strip(),
        }
        for row in _read_csv(path)
    ]
    return _upsert(RetailElectricProvider, "certificate_number", records)


def _read_csv(path):
    with open(path, newline="", encoding="utf-8-sig") as handle:
        return list(csv.DictReader(handle))


def _upsert(model, key, records):
    """Create missing rows and update changed ones, in three queries at most."""
    existing = model.objects.in_bulk([record[key] for record in records], field_name=key)
    to_create, to_update = [], []
    for record in records:
        row = existing.get(record[key])
        if row is None:
            to_create.append(model(**record))
        elif any(getattr(row, field) != value for field, value in record.items()):
            for field, value in record.items():
                setattr(row, field, value)
            to_update.append(row)
    model.objects.bulk_create(to_create)
    fields = [field for field in records[0] if field != key] if records else []
    if to_update:
        model.objects.bulk_update(to_update, fields)
    return UpsertCounts(
        created=len(to_create),
        updated=len(to_update),
        unchanged=len(records) - len(to_create) - len(to_update),
    )
