"""POST /api/v1/agreements/{id}/renewals/ (R12; contract: 201, 409, 403)."""

from datetime import datetime

import pytest

from affirmations import services
from affirmations.models import Renewal
from outbox.models import OutboundEmail
from smt_portal.actors import Actor
from smt_portal.calendar import CENTRAL

from .conftest import (
    NOW,
    large_commercial,
    make_active,
    make_renewable,
    request_agreement,
    residential,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen")]
# request_agreement's address, as a CSP may retype it.
BODY = {"customer_email": "JANE.customer@example.com"}


def _url(agreement):
    return f"/api/v1/agreements/{agreement.pk}/renewals/"


def test_renewing_an_active_agreement_queues_the_email(
    csp_api, mailoutbox, django_capture_on_commit_callbacks
):
    agreement = make_renewable(request_agreement(csp_api.csp, large_commercial(), term_months=24))
    with django_capture_on_commit_callbacks(execute=True):
        response = csp_api.post(_url(agreement), BODY, format="json")

    assert response.status_code == 201
    assert response.json()["kind"] == "one_click"
    assert response.json()["term_months"] == 24
    assert response.json()["status"] == "pending"
    sent = [m for m in mailoutbox if m.to == ["JANE.customer@example.com"]]
    assert len(sent) == 1 and "/renew/" in sent[0].body and "[[sealed" not in sent[0].body


def test_a_large_commercial_renewal_to_another_address_needs_the_full_affirmation(csp_api):
    agreement = make_renewable(request_agreement(csp_api.csp, large_commercial(), term_months=24))
    body = {"customer_email": "new.owner@example.net"}

    response = csp_api.post(_url(agreement), body, format="json")

    assert response.status_code == 201
    assert response.json()["kind"] == "full_affirmation"
    assert Renewal.objects.get().customer_email == "new.owner@example.net"


def test_a_renewal_to_another_address_tells_the_affirmed_address(csp_api):
    agreement = make_renewable(request_agreement(csp_api.csp, residential()))

    response = csp_api.post(_url(agreement), {"customer_email": "csp.inbox@example.org"},
                            format="json")  # fmt: skip

    assert response.status_code == 201
    notice = OutboundEmail.objects.get(kind="renewal_elsewhere_notice")
    assert notice.to_address == "jane.customer@example.com"
    assert "c***@example.org" in notice.body_text
    assert f"/report/?csp={csp_api.csp.pk}&" in notice.body_text


def test_a_second_renewal_while_one_is_open_is_a_conflict(csp_api):
    agreement = make_renewable(request_agreement(csp_api.csp, residential()))
    assert csp_api.post(_url(agreement), BODY, format="json").status_code == 201
    response = csp_api.post(_url(agreement), BODY, format="json")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "renewal_pending"
    assert Renewal.objects.count() == 1


def test_a_pending_request_cannot_be_renewed(csp_api):
    agreement = request_agreement(csp_api.csp, residential())
    response = csp_api.post(_url(agreement), BODY, format="json")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "agreement_not_active"


def test_another_providers_agreement_is_not_found(csp_api, other_csp_api):
    agreement = make_active(request_agreement(csp_api.csp, residential()))
    assert other_csp_api.post(_url(agreement), BODY, format="json").status_code == 404


def test_a_suspended_provider_is_refused(suspended_csp_api):
    response = suspended_csp_api.post("/api/v1/agreements/1/renewals/", BODY, format="json")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "csp_not_active"


def test_the_email_address_is_required(csp_api):
    agreement = make_active(request_agreement(csp_api.csp, residential()))
    response = csp_api.post(_url(agreement), {}, format="json")
    assert response.status_code == 400
    assert "customer_email" in response.json()["error"]["fields"]


def test_an_idempotency_key_replays_the_first_answer(csp_api):
    agreement = make_renewable(request_agreement(csp_api.csp, residential()))
    first = csp_api.post(_url(agreement), BODY, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    again = csp_api.post(_url(agreement), BODY, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert Renewal.objects.count() == 1


def test_a_renewal_asked_before_the_window_is_refused_with_the_date_it_opens(csp_api):
    # Seconds after the opt-in: the term ends 2027-11-23 09:00 Central.
    agreement = make_active(request_agreement(csp_api.csp, residential()), start=NOW)

    response = csp_api.post(_url(agreement), BODY, format="json")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "renewal_not_open"
    assert response.json()["error"]["fields"] == {"opens_on": "2027-09-24"}
    assert Renewal.objects.count() == 0
    assert not OutboundEmail.objects.filter(kind="renewal_request").exists()


def test_the_opening_date_is_the_local_central_date(csp_api):
    # The term ends 20:00 Central on 2027-03-01; the window opens 60 days earlier,
    # 20:00 Central on 2026-12-31, which is already 2027-01-01 in UTC.
    start = datetime(2026, 3, 1, 20, 0, tzinfo=CENTRAL)
    agreement = make_active(request_agreement(csp_api.csp, residential()), start=start)

    response = csp_api.post(_url(agreement), BODY, format="json")

    assert response.json()["error"]["fields"] == {"opens_on": "2026-12-31"}


def test_a_large_commercial_agreement_is_renewed_once_per_term(csp_api):
    agreement = make_renewable(request_agreement(csp_api.csp, large_commercial(), term_months=36))
    renewal = Renewal.objects.get(
        pk=csp_api.post(_url(agreement), BODY, format="json").json()["id"]
    )
    services.agreement_renew(renewal=renewal, actor=Actor.customer(ip="198.51.100.7"), now=NOW)

    response = csp_api.post(_url(agreement), BODY, format="json")

    assert response.status_code == 409
    assert response.json()["error"]["fields"] == {"opens_on": "2029-10-24"}
    assert Renewal.objects.count() == 1
