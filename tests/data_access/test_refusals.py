"""Every way a data read is refused, each answered in the contract's terms and
logged: nothing outside an active agreement's data window is ever served."""

from datetime import timedelta

import pytest

from affirmations import services
from affirmations.models import EndedBy
from csp_registry.services import csp_revoke, csp_suspend
from data_access.models import DataAccessLog
from premises.models import Premise
from smt_portal.actors import Actor

from .conftest import (
    NOW,
    TODAY,
    WINDOW_FIRST,
    body_of,
    opted_in,
    read,
    request_agreement,
    residential,
    store_days,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen")]
KINDS = ["interval-data", "daily-usage", "monthly-usage"]


@pytest.fixture
def shared(tmp_path, active_csp, disclosure, home):
    agreement = opted_in(active_csp, home, disclosure=disclosure)
    store_days(tmp_path, home, TODAY - timedelta(days=2), TODAY)
    return agreement, home


def refusal(response, status, code):
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert error["code"] == code
    return error


def last_log():
    return DataAccessLog.objects.order_by("-id").first()


@pytest.mark.parametrize("kind", KINDS)
def test_a_pending_request_grants_no_data(csp_api, active_csp, home, kind):
    pending = request_agreement(active_csp, home)
    refusal(read(csp_api, pending, kind, esi_id=home.esi_id, start=TODAY, end=TODAY),
            409, "agreement_not_active")  # fmt: skip
    log = last_log()
    assert (log.status_code, log.error_code, log.agreement_id, log.intervals) == (
        409, "agreement_not_active", pending.pk, 0,
    )  # fmt: skip


@pytest.mark.parametrize("ended_by", [EndedBy.CUSTOMER, EndedBy.CSP, EndedBy.COMMITTEE])
def test_an_ended_agreement_grants_nothing_not_even_its_term(csp_api, shared, ended_by):
    agreement, home = shared
    services.agreement_terminate(agreement=agreement, ended_by=ended_by, reason="test",
                                 actor=Actor.system(), now=NOW)  # fmt: skip
    refusal(read(csp_api, agreement, esi_id=home.esi_id, start=TODAY, end=TODAY),
            409, "agreement_not_active")  # fmt: skip


def test_an_agreement_past_its_term_grants_nothing(csp_api, shared, frozen):
    agreement, home = shared
    frozen.move_to(agreement.term_end + timedelta(minutes=1))
    refusal(read(csp_api, agreement, esi_id=home.esi_id, start=TODAY, end=TODAY),
            409, "agreement_not_active")  # fmt: skip


def test_a_suspended_csp_reads_nothing_and_the_refusal_is_logged(
    csp_api, active_csp, shared, frozen
):
    agreement, home = shared
    csp_suspend(csp=active_csp, now=NOW, reason="investigation", actor=Actor.system())
    refusal(read(csp_api, agreement, esi_id=home.esi_id, start=TODAY, end=TODAY),
            403, "csp_not_active")  # fmt: skip
    log = last_log()
    assert (log.csp_id, log.agreement_id, log.status_code, log.esi_id) == (
        active_csp.pk, agreement.pk, 403, home.esi_id,
    )  # fmt: skip


def test_a_revoked_csp_reads_nothing(csp_api, active_csp, shared):
    agreement, home = shared
    csp_revoke(csp=active_csp, now=NOW, reason="abuse", actor=Actor.system())
    response = read(csp_api, agreement, esi_id=home.esi_id, start=TODAY, end=TODAY)
    assert response.status_code in (401, 403)
    assert last_log().status_code == response.status_code


@pytest.mark.parametrize("kind", KINDS)
def test_another_csps_agreement_is_not_found(other_csp_api, other_csp, shared, kind):
    agreement, home = shared
    refusal(read(other_csp_api, agreement, kind, esi_id=home.esi_id, start=TODAY, end=TODAY),
            404, "not_found")  # fmt: skip
    log = last_log()
    assert (log.csp_id, log.agreement_id, log.status_code) == (other_csp.pk, agreement.pk, 404)


def test_an_unknown_agreement_is_not_found(csp_api, home):
    query = {"esi_id": home.esi_id, "start": str(TODAY), "end": str(TODAY)}
    response = csp_api.get("/api/v1/agreements/999999/interval-data/", query)
    refusal(response, 404, "not_found")
    assert last_log().agreement_id == 999999


@pytest.mark.parametrize("kind", KINDS)
def test_a_premise_not_in_the_agreement_is_invalid(csp_api, shared, kind):
    agreement, _ = shared
    neighbour = residential()
    error = refusal(read(csp_api, agreement, kind, esi_id=neighbour.esi_id, start=TODAY,
                         end=TODAY), 400, "invalid")  # fmt: skip
    assert "esi_id" in error["fields"]


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (WINDOW_FIRST - timedelta(days=1), WINDOW_FIRST + timedelta(days=10)),
        (TODAY, TODAY + timedelta(days=1)),
        (TODAY + timedelta(days=5), TODAY + timedelta(days=6)),
    ],
)
@pytest.mark.parametrize("kind", KINDS)
def test_a_range_reaching_outside_the_window_is_refused_whole(csp_api, shared, start, end, kind):
    agreement, home = shared
    error = refusal(read(csp_api, agreement, kind, esi_id=home.esi_id, start=start, end=end),
                    422, "outside_data_window")  # fmt: skip
    assert error["fields"] == {"from": str(WINDOW_FIRST), "to": str(TODAY)}


def test_days_before_the_occupants_move_in_are_outside_the_window(
    tmp_path, csp_api, active_csp, disclosure
):
    moved_in = TODAY - timedelta(days=40)
    home = residential()
    Premise.objects.filter(pk=home.pk).update(occupant_since=moved_in)
    agreement = opted_in(active_csp, home, disclosure=disclosure)
    store_days(tmp_path, home, moved_in - timedelta(days=3), moved_in + timedelta(days=1))

    error = refusal(read(csp_api, agreement, esi_id=home.esi_id,
                         start=moved_in - timedelta(days=1), end=moved_in),
                    422, "outside_data_window")  # fmt: skip
    assert error["fields"] == {"from": str(moved_in), "to": str(TODAY)}
    served = read(csp_api, agreement, esi_id=home.esi_id, start=moved_in,
                  end=moved_in + timedelta(days=1))  # fmt: skip
    assert served.status_code == 200
    assert '"date":"%s"' % (moved_in - timedelta(days=1)) not in body_of(served)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"start": str(WINDOW_FIRST), "end": str(WINDOW_FIRST + timedelta(days=366))}, "end"),
        ({"start": str(TODAY), "end": str(TODAY - timedelta(days=1))}, "end"),
        ({"start": "2026-13-01", "end": str(TODAY)}, "start"),
        ({"start": "23/11/2026", "end": str(TODAY)}, "start"),
        ({"start": str(TODAY)}, "end"),
        ({"start": str(TODAY), "end": str(TODAY), "format": "xlsx"}, "format"),
    ],
)
def test_bad_parameters_are_invalid_naming_the_field(csp_api, shared, params, field):
    agreement, home = shared
    response = csp_api.get(f"/api/v1/agreements/{agreement.pk}/interval-data/",
                           {"esi_id": home.esi_id, **params})  # fmt: skip
    error = refusal(response, 400, "invalid")
    assert field in error["fields"]
    assert last_log().status_code == 400


def test_a_bad_esi_id_is_invalid(csp_api, shared):
    agreement, _ = shared
    error = refusal(read(csp_api, agreement, esi_id="not-an-esi-id", start=TODAY, end=TODAY),
                    400, "invalid")  # fmt: skip
    assert "esi_id" in error["fields"]


def test_a_call_without_a_key_is_refused_and_logged_without_a_csp(anonymous_api, shared):
    agreement, home = shared
    response = read(anonymous_api, agreement, esi_id=home.esi_id, start=TODAY, end=TODAY)
    assert response.status_code == 401
    log = last_log()
    assert (log.csp_id, log.status_code, log.agreement_id) == (None, 401, agreement.pk)


def test_366_days_are_allowed_and_367_are_not(csp_api, shared):
    agreement, home = shared
    allowed = read(csp_api, agreement, esi_id=home.esi_id, start=WINDOW_FIRST, end=TODAY)
    assert allowed.status_code == 200
    body_of(allowed)
    refusal(read(csp_api, agreement, esi_id=home.esi_id,
                 start=WINDOW_FIRST - timedelta(days=1), end=TODAY), 400, "invalid")  # fmt: skip


def test_a_parameter_with_a_nul_byte_is_refused_and_still_logged(csp_api, shared):
    agreement, home = shared
    response = read(csp_api, agreement, esi_id="1044\x00372", start=TODAY, end=TODAY)
    refusal(response, 400, "invalid")
    assert last_log().esi_id == "1044372"


def test_with_redis_gone_a_read_answers_503_serves_nothing_and_is_still_logged(csp_api, shared):
    from django.test import override_settings

    from tests.faults import CACHE_DOWN

    agreement, home = shared
    with override_settings(CACHES=CACHE_DOWN):
        response = read(csp_api, agreement, esi_id=home.esi_id, start=TODAY, end=TODAY)

    assert response.status_code == 503
    assert response["Retry-After"]
    assert response.json()["error"]["code"] == "service_unavailable"
    assert (last_log().status_code, last_log().intervals) == (503, 0)
