"""The periodic job, the seed of settings and roles, and the suspension notice's text."""

import io
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command

from monitoring.models import DetectorSetting, MonitoringSettings, RedFlag
from monitoring.seed import AUDITOR, COMMITTEE, LIAISON, seed_reference_data
from monitoring.tasks import run_detectors
from outbox.services import email_render
from tests.monitoring.conftest import NOW, decided

pytestmark = pytest.mark.django_db


def test_the_periodic_job_runs_every_detector_and_reports_counts(active_csp, time_machine):
    decided(active_csp, 10)
    time_machine.move_to(NOW, tick=False)
    counts = run_detectors.delay().get()
    assert counts["mass_affirmation_one_source"] == {"findings": 1, "opened": 1}
    assert counts["fast_decisions"] == {"findings": 0, "opened": 0}
    again = run_detectors.delay().get()
    assert again["mass_affirmation_one_source"] == {"findings": 1, "opened": 0}
    assert RedFlag.objects.count() == 1


def test_run_jobs_includes_the_monitoring_sweep(active_csp):
    out = io.StringIO()
    call_command("run_jobs", only=["monitoring.tasks.run_detectors"], stdout=out)
    assert "monitoring.tasks.run_detectors" in out.getvalue()


def test_the_seed_creates_defaults_and_roles_and_keeps_staff_values():
    seed_reference_data(io.StringIO())
    setting = DetectorSetting.objects.get(name="fast_decisions")
    setting.window = timedelta(hours=6)
    setting.save()
    seed_reference_data(io.StringIO())
    assert DetectorSetting.objects.get(name="fast_decisions").window == timedelta(hours=6)
    assert MonitoringSettings.current().spam_cooldown_days == 90
    assert set(Group.objects.values_list("name", flat=True)) >= {COMMITTEE, LIAISON, AUDITOR}


def perms(group):
    return set(Group.objects.get(name=group).permissions.values_list("codename", flat=True))


def test_each_role_has_exactly_its_powers():
    seed_reference_data(io.StringIO())
    assert {"review_redflag", "enforce_redflag"} <= perms(COMMITTEE)
    assert "carry_out_commissiondirective" not in perms(COMMITTEE)
    assert {"add_commissiondirective", "carry_out_commissiondirective"} <= perms(LIAISON)
    assert "enforce_redflag" not in perms(LIAISON)
    auditor = perms(AUDITOR)
    assert {"view_redflag", "view_record", "view_dashboard", "view_apirequestlog"} <= auditor
    # Read-only: it views, and exports the record (a read); it changes nothing.
    assert all(codename.startswith("view_") for codename in auditor - {"export_record"})
    assert "export_record" in auditor


@pytest.mark.parametrize("language, phrase", [("en", "How to respond"),
                                              ("es", "Cómo responder")])  # fmt: skip
def test_the_suspension_notice_says_why_and_how_to_respond(language, phrase):
    context = {"csp_name": "Bright", "legal_name": "Bright LLC", "reason": "Spam & more",
               "suspended_at": NOW, "committee_email": "committee@example.org"}  # fmt: skip
    subject, text, html = email_render(kind="csp_suspended", language=language, context=context)
    assert "Bright" in subject
    assert phrase in text and phrase in html
    assert "Spam & more" in text and "Spam &amp; more" in html
    assert "committee@example.org" in text and "csp_not_active" in text
