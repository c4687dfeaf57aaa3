"""The admin at a desk (1280 px wide): no page scrolls sideways; a wide table
scrolls inside its own box instead of cutting off or pushing the page."""

import io
from datetime import date, timedelta
from urllib.parse import urlparse

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from monitoring.models import CommissionDirective, PremiseAuthenticationAttempt, RedFlag
from monitoring.seed import seed_reference_data
from monitoring.services import report_submit
from tests.browser.checks import overflow
from tests.factories import make_premise
from tests.monitoring.conftest import decided
from tests.personas import issue_key, make_csp

pytestmark = pytest.mark.django_db(transaction=True)
DESKTOP = {"width": 1280, "height": 900}
LONG = "Bright Advice and Energy Efficiency Consulting Services of North Texas LLC"


@pytest.fixture
def desk(chromium, live_server, django_user_model):
    """A superuser's browser window at 1280 px, signed in (no second factor in tests)."""
    root = django_user_model.objects.create_superuser("root", "root@smt.example", "x" * 16)
    client = Client()
    client.force_login(root)
    context = chromium.new_context(locale="en-US", viewport=DESKTOP)
    context.set_default_timeout(15_000)
    host = urlparse(live_server.url).hostname
    context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value,
                          "domain": host, "path": "/"}])  # fmt: skip
    yield context.new_page()
    context.close()


def _rows_in_every_wide_table():
    seed_reference_data(io.StringIO())
    now = timezone.now()
    csp = make_csp(
        legal_name=LONG, dba_name=LONG, contact_email="operations@" + "x" * 40 + ".example"
    )
    issue_key(csp, name="production server in the north data centre")
    premise = make_premise()
    decided(csp, 1, premises=[premise])
    for i in range(3):
        PremiseAuthenticationAttempt.objects.create(
            created_at=now, csp=csp, ip=f"2001:db8:85a3:8d3:1319:8a2e:370:{7340 + i}",
            esi_id=premise.esi_id, meter_number="M" * 20, rep_certificate_number="10001",
            authenticated=False, failure_reason="meter_mismatch",
        )  # fmt: skip
    report_submit(csp=csp, category="altering", description="changed " * 40, now=now)
    RedFlag.objects.create(
        csp=csp, detector="mass_affirmation_one_source", kind="a", severity="high",
        summary="12 opt-ins (0 residential premises) from 2001:db8:85a3:8d3:1319:8a2e:370:7348 "
        "and its neighbourhood", window_start=now - timedelta(hours=1), window_end=now,
        created_at=now, last_seen_at=now,
    )  # fmt: skip
    CommissionDirective.objects.create(
        csp=csp, reference="Docket 47472-A-2026-Supplemental", action="suspend",
        relaying_tdu="centerpoint", received_on=date(2026, 11, 2),
    )  # fmt: skip


HIDDEN_COLUMNS = """(() => {
    const box = document.querySelector('#changelist-form .results');
    return box ? box.scrollWidth - box.clientWidth : 0;
})()"""


def test_no_admin_list_scrolls_sideways_or_hides_a_column_at_1280_pixels(portal, desk):
    _rows_in_every_wide_table()
    checked, page_wider, table_wider = [], {}, {}
    for model in admin.site._registry:
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        desk.goto(portal.url + url)
        if not desk.locator("#changelist").count():
            continue  # a custom page in place of the list (the dashboard)
        checked.append(model._meta.label)
        if overflow(desk) > 0:
            page_wider[model._meta.label] = overflow(desk)
        if desk.evaluate(HIDDEN_COLUMNS) > 0:
            table_wider[model._meta.label] = desk.evaluate(HIDDEN_COLUMNS)
    assert len(checked) >= 20
    assert page_wider == {}, "the page scrolls sideways"
    assert table_wider == {}, "columns hidden behind the table's scroll bar"
