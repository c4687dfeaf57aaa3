"""The large-commercial classification reads a peak stored with the premise,
and gives exactly the answer of the usage rows at any date (glossary, R11)."""

import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext

from premises.models import CustomerClass, MonthlyUsage, Premise, TermPolicy
from premises.services import (
    _is_large_commercial,
    _peak_kwh_subquery,
    premise_authenticate,
    premises_large_commercial,
    premises_usage_peaks_refresh,
    usage_window,
)
from premises.tasks import refresh_usage_peaks
from smt_portal.calendar import CENTRAL
from tests.factories import active_meter_number, make_premise, make_rep, make_usage

pytestmark = pytest.mark.django_db

# The last second of November 2026 in Texas, and the first of December.
END_OF_NOVEMBER = datetime(2026, 11, 30, 23, 59, 59, tzinfo=CENTRAL)
START_OF_DECEMBER = END_OF_NOVEMBER + timedelta(seconds=1)
THRESHOLD = Decimal("15000")


def from_usage_rows(premise_ids, *, now, policy):
    """The classification as it was computed before the peak was stored."""
    rows = Premise.objects.filter(pk__in=premise_ids).annotate(peak=_peak_kwh_subquery(now=now))
    return {
        pk: _is_large_commercial(customer_class=customer_class, peak_kwh=peak, policy=policy)
        for pk, customer_class, peak in rows.values_list("pk", "customer_class", "peak")
    }


def random_premises(rng, count):
    """Commercial and residential premises with usage around the threshold,
    over the 30 months before December 2026 (some months missing)."""
    premises = []
    for _ in range(count):
        premise = make_premise(
            customer_class=rng.choice([CustomerClass.COMMERCIAL] * 3 + [CustomerClass.RESIDENTIAL])
        )
        months = {}
        for back in range(30):
            if rng.random() < 0.7:
                index = 2026 * 12 + 11 - back  # November 2026 is back = 0
                month = date((index - 1) // 12, (index - 1) % 12 + 1, 1)
                kwh = Decimal(rng.choice(["14999.999", "15000", "15000.001", "9000", "30000", "0"]))
                months[month] = kwh
        make_usage(premise=premise, monthly_kwh=months)
        premises.append(premise.pk)
    return premises


def test_the_stored_peak_gives_the_usage_rows_answer_at_any_date_across_a_month_boundary():
    rng = random.Random(16)
    ids = random_premises(rng, 40)
    policy = TermPolicy.current()
    premises_usage_peaks_refresh(premises=ids, now=END_OF_NOVEMBER)
    dates = [
        END_OF_NOVEMBER,
        START_OF_DECEMBER,  # the window moved: the stored November peaks are not used
        datetime(2026, 12, 1, 5, 59, 59, tzinfo=UTC),  # still November in Texas
        datetime(2027, 3, 10, tzinfo=UTC),
        datetime(2026, 6, 1, tzinfo=UTC),
    ]
    for now in dates:
        with time_machine.travel(now, tick=False):
            assert premises_large_commercial(premise_ids=ids, now=now, policy=policy) == (
                from_usage_rows(ids, now=now, policy=policy)
            ), now
    # Refreshed on the first of December, December's answers come from the row.
    premises_usage_peaks_refresh(premises=ids, now=START_OF_DECEMBER)
    for now in dates:
        assert premises_large_commercial(premise_ids=ids, now=now, policy=policy) == (
            from_usage_rows(ids, now=now, policy=policy)
        ), now
    assert any(from_usage_rows(ids, now=START_OF_DECEMBER, policy=policy).values())
    assert not all(from_usage_rows(ids, now=START_OF_DECEMBER, policy=policy).values())


def test_the_stored_peak_is_the_one_read_when_it_is_of_the_current_window():
    premise = make_premise(
        customer_class=CustomerClass.COMMERCIAL, monthly_kwh={date(2026, 7, 1): 16000}
    )
    premises_usage_peaks_refresh(premises=[premise.pk], now=END_OF_NOVEMBER)
    stored = Premise.objects.get(pk=premise.pk)
    assert stored.usage_peak_kwh == Decimal("16000")
    assert stored.usage_peak_window_end == usage_window(now=END_OF_NOVEMBER)[1]
    # Proof the row is what is read: a stored peak of the current window wins.
    Premise.objects.filter(pk=premise.pk).update(usage_peak_kwh=Decimal("1"))
    assert premises_large_commercial(premise_ids=[premise.pk], now=END_OF_NOVEMBER) == {
        premise.pk: False
    }


def test_any_write_to_a_premises_usage_clears_its_stored_peak():
    premise = make_premise(
        customer_class=CustomerClass.COMMERCIAL, monthly_kwh={date(2026, 7, 1): 9000}
    )

    def cleared_after(write):
        premises_usage_peaks_refresh(premises=[premise.pk], now=END_OF_NOVEMBER)
        write()
        premise.refresh_from_db()
        return premise.usage_peak_window_end is None

    assert cleared_after(lambda: make_usage(premise=premise, monthly_kwh={date(2026, 8, 1): 20000}))
    assert premises_large_commercial(premise_ids=[premise.pk], now=END_OF_NOVEMBER) == {
        premise.pk: True
    }
    assert cleared_after(lambda: MonthlyUsage.objects.filter(premise=premise).update(kwh=F("kwh")))
    assert cleared_after(lambda: MonthlyUsage.objects.filter(month=date(2026, 8, 1)).delete())
    assert premises_large_commercial(premise_ids=[premise.pk], now=END_OF_NOVEMBER) == {
        premise.pk: False
    }


def test_importing_usage_stores_the_peak_of_the_current_window(tmp_path):
    premise = make_premise(customer_class=CustomerClass.COMMERCIAL)
    path = tmp_path / "usage.csv"
    path.write_text(
        f"esi_id,month,kwh\n{premise.esi_id},2026-07,15000\n{premise.esi_id},2025-07,99999\n"
    )
    with time_machine.travel(END_OF_NOVEMBER, tick=False):
        call_command("import_usage", str(path), stdout=open("/dev/null", "w"))
    premise.refresh_from_db()
    assert premise.usage_peak_kwh == Decimal("15000")
    assert premise.usage_peak_window_end == date(2026, 11, 1)


def test_generated_premises_store_the_peak_their_usage_rows_give():
    call_command("seed_reference_data", stdout=open("/dev/null", "w"))
    with time_machine.travel(END_OF_NOVEMBER, tick=False):
        call_command(
            "generate_premises",
            count=60,
            no_progress=True,
            samples=0,
            stdout=open("/dev/null", "w"),
        )
    rows = Premise.objects.filter(sandbox=False).annotate(
        peak=_peak_kwh_subquery(now=END_OF_NOVEMBER)
    )
    stored = list(rows.values_list("usage_peak_kwh", "usage_peak_window_end", "peak"))
    assert len(stored) == 60
    assert all(window_end == date(2026, 11, 1) for _, window_end, _ in stored)
    assert [kwh for kwh, _, _ in stored] == [peak for _, _, peak in stored]
    assert any(kwh >= THRESHOLD for kwh, _, _ in stored)


def test_refresh_usage_peaks_stores_every_premises_peak_for_the_new_month():
    ids = random_premises(random.Random(3), 12)
    with time_machine.travel(START_OF_DECEMBER, tick=False):
        call_command("refresh_usage_peaks", slice=5, stdout=open("/dev/null", "w"))
    rows = Premise.objects.filter(pk__in=ids).annotate(
        peak=_peak_kwh_subquery(now=START_OF_DECEMBER)
    )
    assert [(peak, date(2026, 12, 1)) for peak in rows.values_list("peak", flat=True)] == list(
        rows.values_list("usage_peak_kwh", "usage_peak_window_end")
    )


def test_authenticating_a_premise_with_a_current_stored_peak_reads_no_usage_rows():
    rep = make_rep("10004")
    premise = make_premise(
        customer_class=CustomerClass.COMMERCIAL, rep=rep, monthly_kwh={date(2026, 7, 1): 16000}
    )
    premises_usage_peaks_refresh(premises=[premise.pk], now=END_OF_NOVEMBER)
    meter = active_meter_number(premise)
    with CaptureQueriesContext(connection) as queries:
        result = premise_authenticate(
            esi_id=premise.esi_id, meter_number=meter, rep_certificate_number="10004",
            now=END_OF_NOVEMBER,
        )  # fmt: skip
    assert result.authenticated and result.large_commercial
    if connection.vendor == "postgresql":
        lookup = next(q["sql"] for q in queries.captured_queries if "premises_premise" in q["sql"])
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + lookup)
            plan = str(cursor.fetchone()[0])
        # The usage subplan is in the plan but never runs for this premise.
        assert "'Actual Loops': 0" in plan or "never executed" in plan, plan


def test_the_hourly_job_stores_only_the_stale_peaks_and_a_second_run_finds_none():
    ids = random_premises(random.Random(5), 6)
    premises_usage_peaks_refresh(premises=ids[:2], now=START_OF_DECEMBER)
    with time_machine.travel(START_OF_DECEMBER, tick=False):
        assert refresh_usage_peaks() == 4
        assert refresh_usage_peaks() == 0
    assert set(Premise.objects.values_list("usage_peak_window_end", flat=True)) == {
        date(2026, 12, 1)
    }
    assert settings.PERIODIC_JOBS["premises.tasks.refresh_usage_peaks"] == 3600


def test_premise_authentication_classifies_as_the_usage_rows_do_at_any_date():
    ids = random_premises(random.Random(17), 30)
    policy = TermPolicy.current()
    premises_usage_peaks_refresh(premises=ids[::2], now=END_OF_NOVEMBER)
    premises = list(Premise.objects.filter(pk__in=ids).select_related("rep_of_record"))
    for now in (END_OF_NOVEMBER, START_OF_DECEMBER, datetime(2027, 3, 10, tzinfo=UTC)):
        expected = from_usage_rows(ids, now=now, policy=policy)
        for premise in premises:
            result = premise_authenticate(
                esi_id=premise.esi_id, meter_number=active_meter_number(premise) or "",
                rep_certificate_number=premise.rep_of_record.certificate_number, now=now,
            )  # fmt: skip
            assert result.authenticated, premise.esi_id
            assert result.large_commercial == expected[premise.pk], (premise.esi_id, now)
            assert result.max_term_months == (
                policy.large_commercial_max_months
                if expected[premise.pk]
                else policy.standard_max_months
            )
