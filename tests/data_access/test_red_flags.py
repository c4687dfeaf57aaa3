"""Red flags (b) data without authorisation and (d) data after termination fire
from real API reads: the data endpoints log every read, and the detectors judge
that log, not URLs."""

from datetime import timedelta

import pytest

from affirmations import services
from affirmations.models import EndedBy
from monitoring.models import RedFlag
from monitoring.services import detectors_run
from smt_portal.actors import Actor

from .conftest import NOW, TODAY, body_of, opted_in, read, request_agreement, store_days

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen")]


def flags(detector):
    detectors_run(now=NOW + timedelta(minutes=5))
    return list(RedFlag.objects.filter(detector=detector))


def ten_reads(client, agreement, esi_id, expected_status):
    for _ in range(10):
        response = read(client, agreement, esi_id=esi_id, start=TODAY, end=TODAY)
        assert response.status_code == expected_status


def test_probing_another_csps_agreement_raises_flag_b(
    other_csp_api, other_csp, active_csp, disclosure, home
):
    theirs = opted_in(active_csp, home, disclosure=disclosure)

    ten_reads(other_csp_api, theirs, home.esi_id, 404)

    [flag] = flags("data_without_authorisation")
    assert (flag.csp, flag.kind) == (other_csp, "b")
    assert flag.evidence["figures"] == {"served": 0, "refused": 10, "agreements": 1}
    assert flag.evidence["samples"][0]["agreement_id"] == theirs.pk
    assert flags("data_after_termination") == []


def test_reading_a_request_the_customer_never_affirmed_raises_flag_b(csp_api, active_csp, home):
    pending = request_agreement(active_csp, home)
    ten_reads(csp_api, pending, home.esi_id, 409)
    [flag] = flags("data_without_authorisation")
    assert flag.csp == active_csp


def test_reading_after_the_customer_ended_the_agreement_raises_flag_d(
    tmp_path, csp_api, active_csp, disclosure, home, frozen
):
    agreement = opted_in(active_csp, home, disclosure=disclosure)
    store_days(tmp_path, home, TODAY, TODAY)
    body_of(read(csp_api, agreement, esi_id=home.esi_id, start=TODAY, end=TODAY))  # allowed
    frozen.shift(timedelta(minutes=1))
    services.agreement_terminate(agreement=agreement, ended_by=EndedBy.CUSTOMER,
                                 reason="", actor=Actor.system(),
                                 now=NOW + timedelta(minutes=1))  # fmt: skip
    frozen.shift(timedelta(minutes=1))

    ten_reads(csp_api, agreement, home.esi_id, 409)

    [flag] = flags("data_after_termination")
    assert (flag.csp, flag.kind) == (active_csp, "d")
    assert flag.evidence["figures"] == {"served": 0, "refused": 10, "agreements": 1}
    assert flags("data_without_authorisation") == []


def test_reading_while_the_agreement_is_active_raises_nothing(
    tmp_path, csp_api, active_csp, disclosure, home
):
    agreement = opted_in(active_csp, home, disclosure=disclosure)
    store_days(tmp_path, home, TODAY, TODAY)
    for _ in range(12):
        body_of(read(csp_api, agreement, esi_id=home.esi_id, start=TODAY, end=TODAY))
    assert flags("data_without_authorisation") == []
    assert flags("data_after_termination") == []


@pytest.mark.parametrize("sandbox", [True, False])
def test_probing_with_a_sandbox_key_raises_no_flag_where_a_live_key_does(
    other_csp, active_csp, disclosure, home, sandbox
):
    from django.utils import timezone

    from csp_registry.services import csp_issue_key
    from tests.personas import api_client_for

    theirs = opted_in(active_csp, home, disclosure=disclosure)
    _, key = csp_issue_key(csp=other_csp, now=timezone.now(), name="k", sandbox=sandbox)

    ten_reads(api_client_for(other_csp, key), theirs, home.esi_id, 404)

    assert (flags("data_without_authorisation") == []) is sandbox
    from data_access.models import DataAccessLog

    assert set(DataAccessLog.objects.values_list("sandbox", flat=True)) == {sandbox}
