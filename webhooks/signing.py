"""Signing secrets and signatures, as the Standard Webhooks specification says.

A secret is ``whsec_`` + base64 of 32 bytes. The portal does not store it: it
stores a random *seal* (a nonce) and rebuilds the secret as
HMAC(SECRET_KEY, purpose, seal) whenever it signs, the way emailed link
tokens are rebuilt (``smt_portal.sealed_tokens``). The secret is shown once,
when the endpoint is created; a copy of the database alone (a backup, a
replica, a staff member in the admin) can neither read it nor sign with it.
Rotating ``SECRET_KEY`` therefore changes every endpoint's secret: CSPs would
register their endpoints again.

Each request carries ``webhook-id`` (the event's id, the same on every
attempt, so receivers can drop duplicates), ``webhook-timestamp`` (the
attempt's Unix time) and ``webhook-signature: v1,<base64 HMAC-SHA256 of
"{id}.{timestamp}.{body}">``.
"""

import base64
import hashlib
import hmac
import secrets

from django.utils.crypto import salted_hmac

SECRET_PREFIX = "whsec_"  # noqa: S105 -- a label, not a secret
_PURPOSE = "smt_portal.webhooks.signing_secret"
SHOWN_PREFIX_LENGTH = len(SECRET_PREFIX) + 4


def _key(seal: str) -> bytes:
    return salted_hmac(_PURPOSE, seal, algorithm="sha256").digest()


def secret_new() -> tuple[str, str]:
    """A fresh ``(seal, secret)``: store the seal, show the secret once."""
    seal = secrets.token_urlsafe(24)
    return seal, secret_of(seal)


def secret_of(seal: str) -> str:
    """The signing secret a seal stands for (``whsec_…``)."""
    return SECRET_PREFIX + base64.b64encode(_key(seal)).decode()


def signature(*, seal: str, msg_id: str, timestamp: int, body: str) -> str:
    """``v1,<base64 HMAC-SHA256>`` of ``{msg_id}.{timestamp}.{body}``."""
    signed = f"{msg_id}.{timestamp}.{body}".encode()
    digest = hmac.new(_key(seal), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed_headers(*, seal: str, msg_id: str, timestamp: int, body: str) -> dict[str, str]:
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(seal=seal, msg_id=msg_id, timestamp=timestamp, body=body),
    }
