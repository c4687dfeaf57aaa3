"""/affirm/<token>/ (read-only until the decision page arrives): GET changes nothing."""

import pytest

from affirmations.models import Agreement, AgreementStatus, Record
from outbox.models import OutboundEmail
from smt_portal.sealed_tokens import tokens_in

from .conftest import request_agreement, residential

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen")]


def _path(email):
    # The stored body holds a placeholder; the token is what the email carries.
    [token] = tokens_in(email.body_text)
    return f"/affirm/{token}/"


def test_the_link_shows_the_request_and_changes_nothing(client, active_csp):
    home = residential()
    agreement = request_agreement(active_csp, home)
    records_before = Record.objects.count()

    response = client.get(_path(OutboundEmail.objects.get()))

    assert response.status_code == 200
    page = response.content.decode()
    assert active_csp.display_name in page
    assert home.esi_id in page
    assert agreement.confirmation_code in page
    assert "Monday, November 30, 2026" in page
    assert response["Cache-Control"] == "no-store"
    assert Agreement.objects.get().status == AgreementStatus.PENDING_AFFIRMATION
    assert Record.objects.count() == records_before


def test_the_page_speaks_spanish_on_request(client, active_csp):
    request_agreement(active_csp, residential())
    response = client.get(_path(OutboundEmail.objects.get()), {"lang": "es"})
    assert "lunes 30 de noviembre de 2026" in response.content.decode()


def test_an_unknown_token_is_a_plain_404(client, active_csp):
    request_agreement(active_csp, residential())
    response = client.get("/affirm/" + "A" * 43 + "/")
    assert response.status_code == 404
    assert active_csp.display_name not in response.content.decode()


def test_a_post_to_the_read_only_page_is_refused(client, active_csp):
    request_agreement(active_csp, residential())
    response = client.post(_path(OutboundEmail.objects.get()))
    assert response.status_code in (403, 405)
    assert Agreement.objects.get().status == AgreementStatus.PENDING_AFFIRMATION
