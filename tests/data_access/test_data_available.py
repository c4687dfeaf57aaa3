"""data.available: one event per agreement per import, for agreements that may
read the new days, found set-based (not one per reading or per premise)."""

import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from csp_registry.models import CspEvent
from data_access.services import data_available_emit, data_available_sweep
from premises.models import IntervalWrite

from .conftest import NOW, TODAY, WINDOW_FIRST, opted_in, request_agreement, residential

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen")]


def announced():
    return list(CspEvent.objects.filter(type="data.available").order_by("agreement_id"))


def test_an_import_announces_each_agreement_once_with_its_premises_and_days(
    tmp_path, active_csp, other_csp, disclosure
):
    home, garage, shop, pending_home, nobodys = (residential() for _ in range(5))
    both = opted_in(active_csp, home, garage, disclosure=disclosure)
    theirs = opted_in(other_csp, shop, disclosure=disclosure)
    request_agreement(active_csp, pending_home)
    first, last = TODAY - timedelta(days=2), TODAY
    _import_together(tmp_path, [home, garage, shop, pending_home, nobodys], first, last)

    events = announced()
    assert [(e.csp_id, e.agreement_id) for e in events] == [
        (active_csp.pk, both.pk), (other_csp.pk, theirs.pk),
    ]  # fmt: skip
    data = events[0].data
    assert sorted(data["esi_ids"]) == sorted([home.esi_id, garage.esi_id])
    assert (data["start"], data["end"]) == (str(first), str(last))
    assert data["agreement"]["id"] == both.pk and data["agreement"]["status"] == "active"
    assert not IntervalWrite.objects.exists()  # announced once, then gone


def _import_together(tmp_path, premises, first, last, name="together.csv", revision=None):
    """One import_intervals run (one batch) holding every premise's days."""
    import csv

    from django.core.management import call_command

    from premises.interval_feed import INTERVAL_COLUMNS, day_csv_rows

    from .conftest import _at, day_values

    path = tmp_path / name
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(INTERVAL_COLUMNS)
        for premise in premises:
            day = first
            while day <= last:
                stamp = revision or _at(day, 6)
                writer.writerows(day_csv_rows(esi_id=premise.esi_id, day=day,
                                              wh=day_values(day), revision_at=stamp))  # fmt: skip
                day += timedelta(days=1)
    call_command("import_intervals", str(path), "--no-progress")


def test_an_import_whose_days_were_all_kept_announces_nothing(tmp_path, active_csp, disclosure):
    home = residential()
    opted_in(active_csp, home, disclosure=disclosure)
    later = NOW - timedelta(minutes=5)
    _import_together(tmp_path, [home], TODAY, TODAY, revision=later)
    assert len(announced()) == 1
    _import_together(tmp_path, [home], TODAY, TODAY, name="older.csv",
                     revision=later - timedelta(days=1))  # fmt: skip
    assert len(announced()) == 1


def test_days_before_the_data_window_are_not_announced(tmp_path, active_csp, disclosure):
    home = residential()
    opted_in(active_csp, home, disclosure=disclosure)
    _import_together(tmp_path, [home], WINDOW_FIRST - timedelta(days=5),
                     WINDOW_FIRST - timedelta(days=1))  # fmt: skip
    assert announced() == []
    _import_together(tmp_path, [home], WINDOW_FIRST - timedelta(days=1), WINDOW_FIRST,
                     name="straddling.csv")  # fmt: skip
    [event] = announced()
    assert event.data["start"] == str(WINDOW_FIRST)


def test_announcing_takes_the_same_queries_for_3_or_30_agreements(active_csp, disclosure):
    def queries(count):
        batch = uuid.uuid4()
        for _ in range(count):
            premise = residential()
            opted_in(active_csp, premise, disclosure=disclosure)
            IntervalWrite.objects.create(batch=batch, premise=premise, first_day=TODAY,
                                         last_day=TODAY, written_at=NOW)  # fmt: skip
        with CaptureQueriesContext(connection) as captured:
            assert data_available_emit(batch=batch, now=NOW) == count
        return len(captured)

    assert queries(3) == queries(30)


def test_a_batch_is_announced_once_and_the_sweep_takes_what_a_crash_left(
    active_csp, disclosure, frozen
):
    home = residential()
    opted_in(active_csp, home, disclosure=disclosure)
    batch = uuid.uuid4()
    IntervalWrite.objects.create(batch=batch, premise=home, first_day=TODAY, last_day=TODAY,
                                 written_at=NOW)  # fmt: skip

    assert data_available_sweep(now=NOW + timedelta(minutes=10)) == 0  # may still be running
    assert data_available_sweep(now=NOW + timedelta(hours=2)) == 1
    assert data_available_emit(batch=batch, now=NOW + timedelta(hours=2)) == 0
    assert len(announced()) == 1


def test_a_suspended_csps_agreements_are_not_announced(tmp_path, active_csp, disclosure):
    from csp_registry.services import csp_suspend
    from smt_portal.actors import Actor

    home = residential()
    opted_in(active_csp, home, disclosure=disclosure)
    csp_suspend(csp=active_csp, now=NOW, reason="investigation", actor=Actor.system())
    _import_together(tmp_path, [home], TODAY, TODAY)
    assert announced() == []
