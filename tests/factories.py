"""Factories for TDUs, REPs, premises, meters, usage and CSPs used across the suite.

Plain functions with deterministic defaults. TDUs come from the real
reference file (``premises/data/tdus.csv``), so default ESI IDs carry a real
TDU prefix and length.
"""

import csv
import itertools
from datetime import date
from decimal import Decimal
from pathlib import Path

import premises
from csp_registry.models import Csp, CspStatus
from premises.models import (
    CustomerClass,
    Meter,
    MonthlyUsage,
    Premise,
    RetailElectricProvider,
    Tdu,
)

TDU_CSV = Path(premises.__file__).resolve().parent / "data" / "tdus.csv"
_sequence = itertools.count(1)

DEFAULT_REP_CERTIFICATE = "10004"
METER_INSTALLED_ON = date(2020, 1, 1)


def _tdu_rows():
    with open(TDU_CSV, newline="", encoding="utf-8-sig") as handle:
        return {row["code"]: row for row in csv.DictReader(handle)}


_TDUS = _tdu_rows()


def make_tdu(code="ONCOR"):
    """The TDU of that code: ONCOR, CENTERPOINT, AEP_CENTRAL, AEP_NORTH or TNMP."""
    row = _TDUS[code]
    tdu, _ = Tdu.objects.get_or_create(
        code=code,
        defaults={
            "name": row["name"],
            "puct_id": row["puct_id"],
            "esi_id_prefixes": row["esi_id_prefixes"],
            "esi_id_length": int(row["esi_id_length"]),
            "approx_meters": int(row["approx_meters"]),
        },
    )
    return tdu


def make_all_tdus():
    return [make_tdu(code) for code in _TDUS]


def make_rep(certificate_number=DEFAULT_REP_CERTIFICATE, legal_name=None, active=True):
    rep, _ = RetailElectricProvider.objects.get_or_create(
        certificate_number=certificate_number,
        defaults={"legal_name": legal_name or f"REP {certificate_number} LLC", "active": active},
    )
    return rep


def next_esi_id(tdu_code="ONCOR"):
    """A fresh ESI ID with the TDU's first prefix and its exact length."""
    row = _TDUS[tdu_code]
    prefix = row["esi_id_prefixes"].split()[0]
    length = int(row["esi_id_length"])
    return prefix + str(next(_sequence)).zfill(length - len(prefix))


def _tdu_code_for(esi_id):
    for code, row in _TDUS.items():
        if any(esi_id.startswith(prefix) for prefix in row["esi_id_prefixes"].split()):
            return code
    raise ValueError(f"{esi_id} has no known TDU prefix")


def next_meter_number():
    return str(100_000_000 + next(_sequence))


def make_premise(
    *,
    esi_id=None,
    meter_number=None,
    rep=None,
    tdu=None,
    customer_class=CustomerClass.RESIDENTIAL,
    service_address="100 Main St, Dallas, TX 75201",
    monthly_kwh=None,
    meter_installed_on=METER_INSTALLED_ON,
):
    """A premise with an active meter and, optionally, usage ``{month date: kWh}``."""
    if esi_id is None:
        tdu = tdu or make_tdu()
        esi_id = next_esi_id(tdu.code)
    elif tdu is None:
        tdu = make_tdu(_tdu_code_for(esi_id))
    premise = Premise.objects.create(
        esi_id=esi_id,
        tdu=tdu,
        rep_of_record=rep or make_rep(),
        customer_class=customer_class,
        service_address=service_address,
    )
    Meter.objects.create(
        premise=premise,
        number=meter_number or next_meter_number(),
        installed_on=meter_installed_on,
    )
    if monthly_kwh:
        make_usage(premise=premise, monthly_kwh=monthly_kwh)
    return premise


def make_usage(*, premise, monthly_kwh):
    """Monthly usage rows; keys are any date in the month, values kWh."""
    MonthlyUsage.objects.bulk_create(
        MonthlyUsage(premise=premise, month=month.replace(day=1), kwh=Decimal(str(kwh)))
        for month, kwh in monthly_kwh.items()
    )


def exchange_meter(*, premise, new_number, on):
    """A meter exchange: the active meter is removed ``on`` that day, a new one installed."""
    Meter.objects.filter(premise=premise, removed_on__isnull=True).update(removed_on=on)
    return Meter.objects.create(premise=premise, number=new_number, installed_on=on)


def active_meter_number(premise):
    return premise.meters.get(removed_on__isnull=True).number


def make_csp(*, legal_name="Bright Advice LLC", status=CspStatus.ACTIVE, **fields):
    defaults = {
        "duns_number": "123456789",
        "contact_name": "Dana Advisor",
        "contact_email": "ops@bright-advice.example",
        "contact_phone": "+1 512 555 0100",
        "notice_email": "legal@bright-advice.example",
        "mailing_address": "1 Congress Ave, Austin, TX 78701",
        "privacy_policy_url": "https://bright-advice.example/privacy",
        "scope_of_use": "Energy efficiency advice.",
        "scope_of_use_es": "Asesoría de eficiencia energética.",
    }
    return Csp.objects.create(legal_name=legal_name, status=status, **{**defaults, **fields})
