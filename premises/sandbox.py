"""The sandbox's published facts (glossary "Sandbox"): its premises and its email domain.

Ten premises, flagged ``sandbox``, that only sandbox keys (``smt_test_…``)
authenticate; a live key never finds them, and no customer account can add
them. ``seed_reference_data`` creates them (and keeps them) with synthetic
15-minute readings for the last ``SANDBOX_DAYS`` days, so a developer can go
from a key to an affirmed agreement and its data without a real customer.
The table is printed in the API docs' quick start (``SANDBOX_PREMISES``).

The customer's answer to a sandbox request is scripted by its email address
at ``SANDBOX_EMAIL_DOMAIN`` (``affirmations.sandbox``); nothing is ever sent
to that domain (``outbox.services.email_queue``).
"""

import math
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.db import transaction

from .models import CustomerClass, Meter, Premise, RetailElectricProvider, Tdu

SANDBOX_EMAIL_DOMAIN = "sandbox.smt-portal.example"
SANDBOX_DAYS = 120
METER_INSTALLED_ON = date(2020, 1, 1)


@dataclass(frozen=True)
class SandboxPremise:
    esi_id: str
    meter_number: str
    rep_certificate_number: str
    customer_class: str
    service_address: str


def _premise(n, certificate, customer_class=CustomerClass.RESIDENTIAL):
    return SandboxPremise(
        esi_id=f"10443720099{n:06d}",
        meter_number=f"SBX{n:07d}",
        rep_certificate_number=certificate,
        customer_class=customer_class,
        service_address=f"{100 + n} Sandbox Way, Dallas, TX 75201",
    )


# Fixed and published: never change an existing row (developers' tests use them).
SANDBOX_PREMISES = [
    *(_premise(n, "10004") for n in range(1, 6)),
    *(_premise(n, "10007") for n in range(6, 9)),
    *(_premise(n, "10004", CustomerClass.COMMERCIAL) for n in range(9, 11)),
]
SANDBOX_TDU = "ONCOR"


def is_sandbox_address(email: str) -> bool:
    return email.rpartition("@")[2].lower() == SANDBOX_EMAIL_DOMAIN


def sandbox_premises_seed(*, now) -> tuple[int, int]:
    """Create (or keep) the sandbox premises and their readings up to yesterday.

    Returns ``(premises created, days written)``. The TDU and REPs are the
    seeded ones; a premise whose REP is missing is skipped.
    """
    tdu = Tdu.objects.filter(code=SANDBOX_TDU).first()
    reps = {
        rep.certificate_number: rep
        for rep in RetailElectricProvider.objects.filter(
            certificate_number__in={p.rep_certificate_number for p in SANDBOX_PREMISES}
        )
    }
    if tdu is None:
        return 0, 0
    created = 0
    premises = []
    with transaction.atomic():
        for facts in SANDBOX_PREMISES:
            rep = reps.get(facts.rep_certificate_number)
            if rep is None:
                continue
            premise, made = Premise.objects.get_or_create(
                esi_id=facts.esi_id,
                defaults={
                    "tdu": tdu, "rep_of_record": rep, "customer_class": facts.customer_class,
                    "service_address": facts.service_address, "sandbox": True,
                },
            )  # fmt: skip
            if made:
                created += 1
                Meter.objects.create(
                    premise=premise, number=facts.meter_number, installed_on=METER_INSTALLED_ON
                )
            if premise.sandbox:  # never touch a live premise
                premises.append(premise)
        days = _readings(premises, now=now)
    return created, days


def _readings(premises, *, now):
    from .interval_feed import DayReadings, interval_days_upsert
    from .intervals import intervals_in_day

    today = now.astimezone(UTC).date()
    revision = datetime(2020, 1, 1, tzinfo=UTC)  # always the same: a re-run keeps the rows
    days = [
        DayReadings(
            esi_id=premise.esi_id,
            day=day,
            wh=_synthetic_day(index, day, intervals_in_day(day)),
            estimated=[],
            surplus_wh=None,
            revision_at=revision,
        )  # fmt: skip
        for index, premise in enumerate(premises)
        for day in (today - timedelta(days=back) for back in range(SANDBOX_DAYS, 0, -1))
    ]
    if not days:
        return 0
    counts = interval_days_upsert(days, now=now, batch=uuid.uuid4())
    return counts.days_written


def _synthetic_day(index, day, count):
    """A plausible home: a night base, a morning and an evening peak, in watt-hours."""
    base = 120 + 20 * index
    values = []
    for slot in range(count):
        hour = slot / 4
        peaks = 250 * math.exp(-((hour - 7.5) ** 2) / 2) + 400 * math.exp(-((hour - 19) ** 2) / 4)
        values.append(int(base + peaks + (day.toordinal() * 7 + slot * 13) % 40))
    return values
