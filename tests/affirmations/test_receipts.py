"""Receipts: every decision, renewal and term end, in the customer's language."""

import pytest
from django.conf import settings

from affirmations import services
from affirmations.models import Agreement
from outbox.models import OutboundEmail
from smt_portal.actors import Actor

from .conftest import NOW, large_commercial, make_active, request_agreement, residential

pytestmark = pytest.mark.django_db
WHO = {"actor": Actor.customer(ip="198.51.100.7", user_agent="Tests")}
END = f"{settings.SITE_URL}/end/"
REPORT = f"{settings.SITE_URL}/report/"


def _report(csp):
    return f"{REPORT}?csp={csp.pk}"


def _bodies(kind):
    email = OutboundEmail.objects.get(kind=kind)
    return email, (email.body_text, email.body_html)


@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("en", ("12 months", "November 23, 2027", "To end the sharing")),
        ("es", ("12 meses", "23 de noviembre de 2027", "Para terminar el intercambio")),
    ],
)
def test_the_opt_in_receipt_names_the_provider_premises_term_and_how_to_end_it(
    active_csp, disclosure, language, words
):
    home = residential(service_address="12 Elm St & Co, Austin")
    agreement = request_agreement(active_csp, home, language=language)
    services.agreement_opt_in(agreement=agreement, disclosure=disclosure, now=NOW, **WHO)

    email, bodies = _bodies("receipt_opted_in")
    assert email.language == language
    for body in bodies:
        assert active_csp.display_name in body and home.esi_id in body
        assert all(word in body for word in words)
        assert _report(active_csp) in body
        assert agreement.confirmation_code in body
        assert "/account/" not in body  # customers have no account
    assert "12 Elm St & Co" in email.body_text and "12 Elm St &amp; Co" in email.body_html
    # The stored body holds a sealed placeholder, never the token itself.
    assert f"{END}[[sealed:termination:" in email.body_text
    assert f'href="{END}[[sealed:termination:' in email.body_html  # a clickable link


@pytest.mark.parametrize("decide", ["agreement_opt_out", "agreement_report_spam"])
@pytest.mark.parametrize("language", ["en", "es"])
def test_refusals_get_a_receipt_saying_nothing_is_shared(active_csp, decide, language):
    agreement = request_agreement(active_csp, residential(), language=language)
    getattr(services, decide)(agreement=agreement, now=NOW, **WHO)
    kind = "receipt_opted_out" if decide == "agreement_opt_out" else "receipt_reported_spam"
    _, bodies = _bodies(kind)
    for body in bodies:
        assert ("Nothing is shared" if language == "en" else "No se comparte nada") in body
        assert _report(active_csp) in body


@pytest.mark.parametrize("language", ["en", "es"])
def test_renewal_and_term_end_receipts(active_csp, language):
    agreement = make_active(
        request_agreement(active_csp, large_commercial(), term_months=1, language=language)
    )
    renewal = services.agreement_renewal_request(
        agreement=agreement, customer_email=agreement.customer_email, actor=Actor.system(), now=NOW
    )
    services.agreement_renew(renewal=renewal, now=NOW, **WHO)
    services.agreements_end_terms(now=Agreement.objects.get().term_end)

    renewed, bodies = _bodies("receipt_renewed")
    assert renewed.to_address == agreement.customer_email
    for body in bodies:
        assert ("January 23, 2027" if language == "en" else "23 de enero de 2027") in body
        assert f"{END}[[sealed:termination:" in body and _report(active_csp) in body
    ended, bodies = _bodies("receipt_term_ended")
    for body in bodies:
        assert active_csp.display_name in body and _report(active_csp) in body
