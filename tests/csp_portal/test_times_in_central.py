"""The CSP portal's key and webhook pages show times in Central, labelled so."""

from datetime import datetime

import pytest
import time_machine

from csp_registry.services import csp_issue_key
from smt_portal.calendar import CENTRAL

from .test_credentials import _member_client

pytestmark = pytest.mark.django_db


def test_a_key_s_creation_time_is_central_and_says_so(active_csp):
    admin = _member_client(active_csp, "admin")
    created = datetime(2026, 7, 1, 14, 5, tzinfo=CENTRAL)  # 19:05 UTC, daylight time
    with time_machine.travel(created, tick=False):
        csp_issue_key(csp=active_csp, name="billing server", actor=None, now=created)
    page = admin.get("/csp/keys/").content.decode()
    assert "2026-07-01 14:05 CDT" in page
    assert "UTC" not in page
