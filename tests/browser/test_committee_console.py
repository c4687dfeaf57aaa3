"""The committee acts on red flags in seconds: a committee member signed in with an
authenticator app goes from the admin home to a suspended CSP, its sibling flags
closed, in at most four clicks and one typed reason (counted below); axe finds no
serious or critical violation on the admin pages of the way."""

import io
import time
from datetime import timedelta

import pytest
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, hotp_value
from django.contrib.auth.models import Group
from django.utils import timezone

from csp_registry.models import CspStatus
from monitoring.models import FlagAction, FlagStatus, RedFlag
from monitoring.seed import COMMITTEE, seed_reference_data
from tests.browser.checks import serious_violations
from tests.personas import make_csp

pytestmark = pytest.mark.django_db(transaction=True)
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
PASSWORD = "a long committee passphrase"
DESKTOP = {"width": 1280, "height": 900}


def _current_code(secret):
    """What an authenticator app shows now, at least five seconds before it changes."""
    if time.time() % 30 > 25:
        time.sleep(30 - time.time() % 30)
    return format_hotp_value(hotp_value(secret, int(time.time()) // 30))


@pytest.fixture
def desk(chromium):
    """A desktop browser window: the committee works at a desk."""
    context = chromium.new_context(locale="en-US", viewport=DESKTOP)
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


@pytest.fixture
def committee_member(django_user_model):
    seed_reference_data(io.StringIO())
    member = django_user_model.objects.create_user("carla", "carla@smt.example", PASSWORD,
                                                   is_staff=True)  # fmt: skip
    member.groups.add(Group.objects.get(name=COMMITTEE))
    TOTP.activate(member, SECRET)
    return member


def _one_job_run_of_flags(csp):
    """Seven flags about ``csp`` from one detector run, the newest high."""
    now = timezone.now()
    flags = []
    for hours in range(7):
        start = now - timedelta(hours=hours + 1)
        flags.append(RedFlag.objects.create(
            csp=csp, detector="mass_affirmation_one_source", kind="a",
            severity="high" if hours == 0 else "medium",
            summary=f"{12 + hours} opt-ins (0 residential premises) from 198.51.100.{hours + 1}",
            window_start=start, window_end=start + timedelta(hours=1),
            evidence={"figures": {"sources": [{"ip": f"198.51.100.{hours + 1}",
                                               "decisions": 12 + hours, "premises": 0}]},
                      "thresholds": {"min_decisions_per_ip": 10}},
            created_at=start, last_seen_at=start,
        ))  # fmt: skip
    return flags


def _sign_in(page, portal):
    page.goto(portal.url + "/admin/")
    page.get_by_label("Username").fill("carla")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    page.locator("input[name=code]").fill(_current_code(SECRET))
    page.get_by_role("button", name="Sign In").click()
    page.get_by_role("heading", name="Site administration").wait_for()


def test_from_the_admin_home_to_a_suspended_csp_with_its_flags_closed_in_four_clicks(
    portal, desk, axe, settings, committee_member
):
    settings.STAFF_MFA_REQUIRED = True
    csp = make_csp(legal_name="Bright Advice LLC")
    newest, *siblings = _one_job_run_of_flags(csp)
    page = desk
    _sign_in(page, portal)
    problems = {}
    clicks = typed = 0

    def click(target):
        nonlocal clicks
        clicks += 1
        target.click()
        page.wait_for_load_state("load")

    problems["home"] = serious_violations(page, axe)
    click(page.get_by_role("link", name="7 open red flags"))
    problems["open flags"] = serious_violations(page, axe)
    click(page.get_by_role("link", name=newest.summary))
    assert "Mass affirmation from one place" in page.content()
    assert page.get_by_text("will also close its 6 other open flags").is_visible()
    problems["flag"] = serious_violations(page, axe)
    page.get_by_label("Reason").fill("Mass opt-ins from one address, seven hours running")
    typed += 1
    click(page.get_by_role("button", name="Suspend the CSP"))

    page.get_by_text(f"6 other open flags of {csp} closed").wait_for()
    assert (clicks, typed) == (3, 1) and clicks <= 4
    problems["after"] = serious_violations(page, axe)
    csp.refresh_from_db()
    assert csp.status == CspStatus.SUSPENDED
    assert set(RedFlag.objects.values_list("status", flat=True)) == {FlagStatus.ACTIONED}
    closed = FlagAction.objects.filter(flag__in=siblings)
    assert list(closed.values_list("decided_with", flat=True)) == [newest.pk] * 6

    # Revoking, final, asks once more on a page of its own.
    page.get_by_label("Reason").fill("Confirmed: the data was sold")
    page.get_by_role("button", name="Revoke the CSP (final)").click()
    page.get_by_role("heading", name=f"Revoke {csp}? This cannot be undone.").wait_for()
    problems["revoke, final"] = serious_violations(page, axe)
    page.get_by_role("link", name="Cancel").click()
    csp.refresh_from_db()
    assert csp.status == CspStatus.SUSPENDED

    page.goto(portal.url + "/admin/csp_registry/csp/")
    problems["csp list"] = serious_violations(page, axe)
    found = {name: found for name, found in problems.items() if found}
    assert found == {}, found
