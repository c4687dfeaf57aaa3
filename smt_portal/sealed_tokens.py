"""Link tokens that never rest in the database in clear.

An emailed link carries a token; the database keeps only the token's SHA-256
(for lookup) and, in the queued email, a *placeholder* naming a random nonce.
The token is HMAC(SECRET_KEY, purpose, nonce), so it can be rebuilt only by
the portal at the moment the email is sent. A copy of the database alone
(a backup, a replica, a staff member reading the outbox) opens no link.
"""

import base64
import hashlib
import re
import secrets

from django.utils.crypto import salted_hmac

_PLACEHOLDER = re.compile(r"\[\[sealed:([a-z_]{1,30}):([A-Za-z0-9_-]{16,64})\]\]")


def _derive(purpose, nonce):
    digest = salted_hmac(f"smt_portal.sealed_tokens.{purpose}", nonce, algorithm="sha256").digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def sealed_token_new(purpose):
    """A fresh ``(placeholder, token_hash)`` pair for one link.

    Put the placeholder where the token goes in the email; store the hash."""
    nonce = secrets.token_urlsafe(16)
    token = _derive(purpose, nonce)
    return f"[[sealed:{purpose}:{nonce}]]", token_hash(token)


def token_hash(token):
    return hashlib.sha256(token.encode()).hexdigest()


def unseal(text):
    """Replace every placeholder in ``text`` with its token (at send time)."""
    return _PLACEHOLDER.sub(lambda m: _derive(m.group(1), m.group(2)), text)


def tokens_in(text):
    """The tokens ``text``'s placeholders stand for (tests, the dev outbox)."""
    return [_derive(purpose, nonce) for purpose, nonce in _PLACEHOLDER.findall(text)]
