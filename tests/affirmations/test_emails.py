"""The customer emails about agreements: content, both bodies, both languages."""

import pytest
from django.conf import settings

from affirmations import services
from affirmations.models import AgreementStatus, EndedBy
from outbox.models import OutboundEmail
from smt_portal.actors import Actor
from smt_portal.sealed_tokens import tokens_in, unseal

from .conftest import NOW, make_active, request_agreement, residential

pytestmark = pytest.mark.django_db


def _link(email):
    """The link as it is sent (the stored body holds a placeholder, not the token)."""
    [token] = tokens_in(email.body_text)
    return f"{settings.SITE_URL}/affirm/{token}/"


def test_the_affirmation_email_says_everything_in_both_bodies(active_csp):
    home = residential(service_address="12 Elm St, Austin, TX 78701")
    shop = residential(service_address="34 Oak Ave & Co, Austin, TX 78702")
    agreement = request_agreement(active_csp, home, shop, term_months=9)

    email = OutboundEmail.objects.get(kind="affirmation_request")
    link = _link(email)
    assert email.subject.endswith(agreement.confirmation_code)
    for body in (unseal(email.body_text), unseal(email.body_html)):
        assert active_csp.display_name in body
        assert agreement.confirmation_code in body
        assert "11:59 p.m. Central Standard Time on Monday, November 30, 2026" in body
        assert link in body
        assert home.esi_id in body and shop.esi_id in body
        assert "12 Elm St, Austin, TX 78701" in body
        assert "9 months" in body
        assert "15-minute interval" in body
        assert "If you ignore this email, nothing is shared" in body
        assert "<img" not in body.lower()
    assert "34 Oak Ave & Co" in email.body_text  # plain text is not escaped
    assert "34 Oak Ave &amp; Co" in email.body_html
    assert "http" not in email.body_html.replace(settings.SITE_URL, "").replace(
        "https://www.w3.org", ""
    ), "no external resources"


def test_the_spanish_affirmation_email(active_csp):
    home = residential()
    agreement = request_agreement(active_csp, home, language="es", term_months=1)

    email = OutboundEmail.objects.get(kind="affirmation_request")
    assert email.language == "es"
    assert email.subject.startswith("¿Acepta compartir")
    for body in (unseal(email.body_text), unseal(email.body_html)):
        assert "11:59 p. m., hora estándar del centro, el lunes 30 de noviembre de 2026" in body
        assert agreement.confirmation_code in body
        assert home.esi_id in body
        assert "1 mes" in body and "1 meses" not in body
        assert "no se comparte nada" in body
        assert _link(email) in body


def test_the_reminder_repeats_the_request_with_its_own_link(active_csp):
    agreement = request_agreement(active_csp, residential())
    services.agreement_remind(agreement=agreement, actor=Actor.system(), now=NOW)

    first, reminder = OutboundEmail.objects.order_by("pk")
    assert reminder.kind == "affirmation_reminder"
    assert reminder.subject.startswith("Reminder:")
    assert _link(reminder) != _link(first)
    for body in (reminder.body_text, reminder.body_html):
        assert "The deadline has not changed" in body
        assert agreement.confirmation_code in body


@pytest.mark.parametrize("language", ["en", "es"])
def test_termination_and_revocation_notices_name_the_provider_and_premises(active_csp, language):
    home = residential()
    one = make_active(request_agreement(active_csp, home, language=language))
    services.agreement_terminate(
        agreement=one, ended_by=EndedBy.CSP, reason="", actor=Actor.system(), now=NOW
    )
    other = make_active(request_agreement(active_csp, home, language=language))
    services.agreements_revoke_for_csp(csp=active_csp, actor=Actor.system(), reason="", now=NOW)

    for kind in ("agreement_terminated", "agreement_revoked"):
        email = OutboundEmail.objects.get(kind=kind)
        assert email.language == language
        for body in (email.body_text, email.body_html):
            assert active_csp.display_name in body
            assert home.esi_id in body
            assert "<img" not in body.lower()
    assert other.pk != one.pk
    assert one.status == AgreementStatus.ACTIVE  # the caller's copy; the row changed


def test_a_provider_without_a_dba_is_named_once(active_csp):
    request_agreement(active_csp, residential())
    email = OutboundEmail.objects.get(kind="affirmation_request")
    for body in (email.body_text, email.body_html):
        assert "Bright Advice LLC (Bright Advice LLC)" not in body
        assert "Bright Advice LLC, a Competitive Service Provider" in body


def test_a_provider_with_a_dba_shows_it_with_its_legal_name(active_csp):
    active_csp.dba_name = "Bright"
    active_csp.save()
    request_agreement(active_csp, residential())
    email = OutboundEmail.objects.get(kind="affirmation_request")
    for body in (email.body_text, email.body_html):
        assert "Bright (Bright Advice LLC), a Competitive Service Provider" in body


def test_every_subject_template_is_one_line():
    from pathlib import Path

    folder = Path(settings.BASE_DIR) / "templates" / "emails"
    for subject in folder.glob("*/*/subject.txt"):
        assert len(subject.read_text().strip().splitlines()) == 1, subject
