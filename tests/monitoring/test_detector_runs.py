"""The sweep runs every detector on its own: one that fails is rolled back,
logged and recorded (dashboard, /healthz), and the others still raise their flags."""

import dataclasses
from datetime import timedelta

import pytest
from django.db import connection

from monitoring.detectors import DETECTORS
from monitoring.models import DetectorRun, RedFlag
from monitoring.services import detectors_run
from tests.factories import make_csp
from tests.monitoring.conftest import NOW, decided

pytestmark = pytest.mark.django_db

# Sorted first by name, so every real detector runs after it.
BROKEN = "a_broken_detector"


@pytest.fixture
def csp(db):
    return make_csp(legal_name="Bright Advice LLC")


@pytest.fixture
def broken_detector(monkeypatch):
    """A detector in the real registry whose query fails half-way, after writing."""

    def find(window, thresholds):
        RedFlag.objects.update(summary="written by the broken detector")  # rolled back
        raise RuntimeError("the detector's query failed")

    template = DETECTORS["fast_decisions"]
    monkeypatch.setitem(DETECTORS, BROKEN, dataclasses.replace(template, name=BROKEN, find=find))
    return BROKEN


def store_behind_the_orms_back(csp, ranges):
    """What a careless SQL session or an old import could leave in the table."""
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE csp_registry_csp SET registered_ip_ranges = %s WHERE id = %s", [ranges, csp.pk]
        )


def test_a_detector_that_raises_is_recorded_and_the_others_still_raise_their_flags(
    csp, broken_detector, caplog
):
    decided(csp, 10)
    results = detectors_run(now=NOW)
    assert results[BROKEN] == {"findings": 0, "opened": 0, "error": "RuntimeError"}
    assert results["mass_affirmation_one_source"] == {"findings": 1, "opened": 1}
    detectors_run(now=NOW)  # the broken one now writes to that flag, then fails
    flag = RedFlag.objects.get(detector="mass_affirmation_one_source")
    assert flag.summary.startswith("10 opt-ins")  # its write was rolled back
    run = DetectorRun.objects.get(detector=BROKEN)
    assert (run.ok, run.error_class, run.error_message) == (
        False, "builtins.RuntimeError", "the detector's query failed",
    )  # fmt: skip
    assert (run.failures_in_a_row, run.last_ok_at, run.started_at) == (2, None, NOW)
    assert f"Detector {BROKEN} failed" in caplog.text


def test_every_other_detector_records_a_successful_run(csp, broken_detector):
    detectors_run(now=NOW)
    runs = dict(DetectorRun.objects.values_list("detector", "ok"))
    assert runs == {**dict.fromkeys(DETECTORS, True), BROKEN: False}


def test_a_range_stored_behind_the_orms_back_fails_one_detector_not_the_sweep(csp):
    # Netmask form: PostgreSQL's inet cast refuses it; before, the whole sweep stopped here.
    store_behind_the_orms_back(csp, "10.0.0.0/255.255.255.0")
    decided(csp, 10)
    results = detectors_run(now=NOW)
    assert "error" in results["csp_affirms_for_customer"]
    assert [flag.detector for flag in RedFlag.objects.all()] == ["mass_affirmation_one_source"]
    failed = DetectorRun.objects.filter(ok=False).values_list("detector", flat=True)
    assert list(failed) == ["csp_affirms_for_customer"]


def test_a_failing_detector_counts_its_failures_in_a_row_and_resets_once_it_works(
    csp, broken_detector, monkeypatch
):
    detectors_run(now=NOW)
    detectors_run(now=NOW + timedelta(minutes=15))
    assert DetectorRun.objects.get(detector=BROKEN).failures_in_a_row == 2
    monkeypatch.setitem(
        DETECTORS, BROKEN, dataclasses.replace(DETECTORS[BROKEN], find=lambda w, t: [])
    )
    detectors_run(now=NOW + timedelta(minutes=30))
    run = DetectorRun.objects.get(detector=BROKEN)
    assert (run.ok, run.failures_in_a_row, run.error_class) == (True, 0, "")
    assert run.last_ok_at == NOW + timedelta(minutes=30)


def test_the_dashboard_names_a_failing_detector_prominently(admin_client, csp, broken_detector):
    detectors_run(now=NOW)
    response = admin_client.get("/admin/monitoring/dashboard/")
    assert response.status_code == 200
    page = response.content.decode()
    assert 'class="errornote" role="alert">Detector <strong>Inhumanly fast decisions' in page
    assert f"({BROKEN}) failed on its last run" in page
    assert "the detector&#x27;s query failed" in page
    assert page.count("failed: builtins.RuntimeError") == 1


def test_the_dashboard_lists_detectors_that_never_ran(admin_client):
    page = admin_client.get("/admin/monitoring/dashboard/").content.decode()
    assert page.count("not run yet") == len(DETECTORS)
    assert "errornote" not in page
