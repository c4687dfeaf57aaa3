"""Detector settings are edited as typed fields with units, not as raw JSON."""

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse

from monitoring.detectors import DETECTORS
from monitoring.forms import DetectorSettingForm
from monitoring.models import DetectorSetting, MonitoringSettings
from monitoring.services import detector_settings_ensure

pytestmark = pytest.mark.django_db


@pytest.fixture
def settings_rows(roles):
    detector_settings_ensure()


def client_for(user):
    client = Client()
    client.force_login(user)
    return client


def page_of(name):
    return reverse("admin:monitoring_detectorsetting_change",
                   args=[DetectorSetting.objects.get(name=name).pk])  # fmt: skip


def form_data(name, **overrides):
    """What the change page posts unchanged, with ``overrides``."""
    form = DetectorSettingForm(instance=DetectorSetting.objects.get(name=name))
    data = {field: form.fields[field].initial for field in form.fields}
    data["enabled"] = "on"
    return {key: value for key, value in {**data, **overrides}.items() if value is not None}


def test_each_threshold_is_its_own_field_with_its_unit_and_help(settings_rows, committee_member):
    page = client_for(committee_member).get(page_of("authentication_attempts")).content.decode()
    assert 'name="threshold_max_failure_ratio"' in page
    assert "At most this share failed (%)" in page
    assert "A percentage from 0 to 100" in page
    assert 'name="threshold_max_attempts_per_csp"' in page
    assert 'name="window_amount"' in page and 'name="window_unit"' in page
    assert 'name="thresholds"' not in page  # no raw JSON
    assert "1:00:00" not in page


def test_the_form_shows_stored_fractions_as_percentages_and_windows_in_units(settings_rows):
    form = DetectorSettingForm(instance=DetectorSetting.objects.get(name="rejections"))
    assert form.fields["threshold_max_spam_rate"].initial == 5
    assert form.fields["threshold_max_opt_out_rate"].initial == 50
    assert (form.fields["window_amount"].initial, form.fields["window_unit"].initial) == (
        7, "days",
    )  # fmt: skip


def test_a_saved_form_writes_the_json_thresholds_and_the_window(settings_rows, committee_member):
    data = form_data("rejections", threshold_max_spam_rate="7.5", threshold_min_outcomes="40",
                     window_amount="36", window_unit="hours")  # fmt: skip

    response = client_for(committee_member).post(page_of("rejections"), data)

    assert response.status_code == 302
    setting = DetectorSetting.objects.get(name="rejections")
    assert setting.window == timedelta(hours=36)
    assert setting.thresholds == {"min_outcomes": 40, "max_spam_rate": 0.075,
                                  "max_opt_out_rate": 0.5}  # fmt: skip
    assert setting.updated_at is not None


@pytest.mark.parametrize(
    "field, value",
    [("threshold_max_spam_rate", "120"), ("threshold_min_outcomes", "-1"),
     ("threshold_min_outcomes", "many"), ("window_amount", "0"), ("window_unit", "weeks")],
)  # fmt: skip
def test_an_invalid_value_is_refused_beside_its_field(settings_rows, committee_member, field,
                                                      value):  # fmt: skip
    before = DetectorSetting.objects.get(name="rejections")
    response = client_for(committee_member).post(
        page_of("rejections"), form_data("rejections", **{field: value})
    )
    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors
    after = DetectorSetting.objects.get(name="rejections")
    assert (after.window, after.thresholds) == (before.window, before.thresholds)


def test_every_detector_s_form_saves_its_defaults_unchanged(settings_rows):
    for name, detector in DETECTORS.items():
        setting = DetectorSetting.objects.get(name=name)
        form = DetectorSettingForm(form_data(name), instance=setting)
        assert form.is_valid(), (name, form.errors)
        saved = form.save()
        assert saved.thresholds == detector.thresholds, name
        assert saved.window == detector.window, name


def test_the_list_shows_windows_and_thresholds_in_words(settings_rows, committee_member):
    page = (
        client_for(committee_member)
        .get(reverse("admin:monitoring_detectorsetting_changelist"))
        .content.decode()
    )
    assert "7 days" in page and "1 day<" in page and "1 hour<" in page
    assert "At most this share reported as spam: 5 %" in page
    assert "1 day, 0:00:00" not in page


def test_the_list_names_each_detector_in_words_not_by_its_identifier(
    settings_rows, committee_member
):
    page = (
        client_for(committee_member)
        .get(reverse("admin:monitoring_detectorsetting_changelist"))
        .content.decode()
    )
    assert "Authentication attempts" in page
    assert ">authentication_attempts<" not in page


def test_auditors_read_the_settings_in_words_and_cannot_change_them(settings_rows, auditor):
    client = client_for(auditor)
    page = client.get(page_of("rejections")).content.decode()
    assert "7 days" in page and 'name="window_amount"' not in page
    assert client.post(page_of("rejections"), form_data("rejections")).status_code == 403


def test_the_spam_cooldown_is_labelled_in_days(roles, committee_member):
    MonitoringSettings.current()
    url = reverse("admin:monitoring_monitoringsettings_change", args=[1])
    assert "Spam cooldown (days)" in client_for(committee_member).get(url).content.decode()
