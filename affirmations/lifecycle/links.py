"""Emailed links: sealed tokens, their rows, their URLs, and finding them again."""

import secrets

from django.conf import settings
from django.urls import reverse

from smt_portal import sealed_tokens

from ..models import (
    AgreementLink,
    LinkPurpose,
)

# Unambiguous when read aloud or retyped: no 0/O, 1/I/L.
CONFIRMATION_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CONFIRMATION_LENGTH = 8


# --- Small helpers -------------------------------------------------------------


def confirmation_code_new() -> str:
    return "".join(secrets.choice(CONFIRMATION_ALPHABET) for _ in range(CONFIRMATION_LENGTH))


def link_token_new() -> tuple[str, str]:
    """A new link: ``(placeholder, token_hash)``.

    The token (256 bits) exists in clear only in the email as it is sent: the
    outbox row holds a placeholder (``smt_portal.sealed_tokens``), the link
    row the SHA-256.
    """
    return sealed_tokens.sealed_token_new(LinkPurpose.AFFIRMATION.value)


def link_token_hash(token: str) -> str:
    return sealed_tokens.token_hash(token)


def agreement_link_find(*, token: str, purpose: str = LinkPurpose.AFFIRMATION):
    """The link a token opens, with its agreement and CSP, or ``None``.

    The lookup is by the hash's unique index: the database compares hashes,
    never the token, so timing says nothing about stored values.
    """
    if not token or len(token) > 100:
        return None
    return (
        AgreementLink.objects.select_related("agreement__csp")
        .filter(token_hash=link_token_hash(token), purpose=purpose)
        .first()
    )


def affirmation_url(placeholder: str) -> str:
    # reverse() would percent-encode the placeholder's brackets; it must stay
    # verbatim for the outbox to replace it with the token at send time.
    path = reverse("affirmations:affirm", args=["TOKEN"]).replace("TOKEN", placeholder)
    return settings.SITE_URL + path


def link_create(*, agreement, token_hash, now):
    link = link_new(agreement=agreement, token_hash=token_hash, now=now)
    link.save(force_insert=True)
    return link


def link_new(*, agreement, token_hash, now):
    """The affirmation link's row, not saved (a request INSERTs it with its other rows)."""
    return AgreementLink(
        agreement=agreement,
        purpose=LinkPurpose.AFFIRMATION,
        token_hash=token_hash,
        created_at=now,
        expires_at=agreement.affirmation_expires_at,
    )


def termination_url(placeholder: str) -> str:
    path = reverse("affirmations:end", args=["TOKEN"]).replace("TOKEN", placeholder)
    return settings.SITE_URL + path


def termination_link_new(agreement_id, *, expires_at, now):
    """A sealed link that ends the agreement, valid until its term ends; its URL."""
    placeholder, token_hash = sealed_tokens.sealed_token_new(LinkPurpose.TERMINATION.value)
    AgreementLink.objects.create(
        agreement_id=agreement_id, purpose=LinkPurpose.TERMINATION, token_hash=token_hash,
        created_at=now, expires_at=expires_at,
    )  # fmt: skip
    return termination_url(placeholder)


def termination_links_new_many(agreements, *, now):
    """A new termination link for each agreement, in one INSERT (set-based
    sweeps); valid until each term ends. Returns ``{agreement_id: url}``."""
    urls, rows = {}, []
    for agreement in agreements:
        placeholder, token_hash = sealed_tokens.sealed_token_new(LinkPurpose.TERMINATION.value)
        rows.append(
            AgreementLink(
                agreement_id=agreement.pk, purpose=LinkPurpose.TERMINATION,
                token_hash=token_hash, created_at=now, expires_at=agreement.term_end,
            )
        )  # fmt: skip
        urls[agreement.pk] = termination_url(placeholder)
    AgreementLink.objects.bulk_create(rows, batch_size=1000)
    return urls


def termination_link_renew(agreement, now):
    """After a renewal: the links already sent keep working to the new term
    end (the customer may keep the first receipt), and the receipt gets its own."""
    AgreementLink.objects.filter(agreement=agreement, purpose=LinkPurpose.TERMINATION).update(
        expires_at=agreement.term_end
    )
    return termination_link_new(agreement.pk, expires_at=agreement.term_end, now=now)


def termination_link_find(*, token: str):
    """The termination link a token opens, with its agreement and CSP, or ``None``."""
    return agreement_link_find(token=token, purpose=LinkPurpose.TERMINATION)


def renewal_url(placeholder: str) -> str:
    path = reverse("affirmations:renew", args=["TOKEN"]).replace("TOKEN", placeholder)
    return settings.SITE_URL + path


def renewal_link_find(*, token: str):
    """The renewal link a token opens, with its renewal, agreement and CSP, or ``None``."""
    link = agreement_link_find(token=token, purpose=LinkPurpose.RENEWAL)
    return link if link is not None and link.renewal_id is not None else None
