"""Receipts: the stop-sharing link is a button in the HTML email; the text keeps the URL."""

import pytest
from django.conf import settings

from affirmations import services
from outbox.models import OutboundEmail
from smt_portal.actors import Actor

from .conftest import NOW, request_agreement, residential

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen", "disclosure")]


@pytest.mark.parametrize(
    ("language", "label"), [("en", "Stop sharing"), ("es", "Dejar de compartir")]
)
def test_the_opt_in_receipt_has_a_stop_sharing_button(active_csp, language, label):
    agreement = request_agreement(active_csp, residential(), language=language)
    services.agreement_opt_in(
        agreement=agreement, disclosure=services.disclosure_current(), now=NOW,
        actor=Actor.customer(ip="198.51.100.7", user_agent="Tests"),
    )  # fmt: skip
    receipt = OutboundEmail.objects.get(kind="receipt_opted_in")
    end_link = settings.SITE_URL + "/end/[[sealed:termination:"

    [button] = [line for line in receipt.body_html.splitlines() if f">{label}</a>" in line]
    assert f'href="{end_link}' in button and "display:inline-block" in button
    # The text email keeps the link on its own line, and the report link.
    assert "\n" + end_link in receipt.body_text
    assert f"/report/?csp={active_csp.pk}" in receipt.body_text
