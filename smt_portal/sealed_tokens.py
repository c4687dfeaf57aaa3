"""Link tokens that never rest in the database in clear.

An emailed link carries a token; the database keeps only the token's SHA-256
(for lookup) and, in the queued email, a *placeholder* naming a random nonce.
The token is HMAC(SECRET_KEY, purpose, nonce), so it can be rebuilt only by
the portal at the moment the email is sent. A copy of the database alone
(a backup, a replica, a staff member reading the outbox) opens no link.

A secret the portal does not choose itself (a sign-in code, django-allauth's
email-confirmation and password-reset keys) is *sealed*: the placeholder
carries it encrypted under a key derived from SECRET_KEY and a fresh nonce,
and ``unseal`` opens it at send time, as for tokens.
"""

import base64
import hashlib
import re
import secrets

from django.utils.crypto import salted_hmac

_PLACEHOLDER = re.compile(r"\[\[sealed:([a-z_]{1,30}):([A-Za-z0-9_-]{16,64})\]\]")
_SEALED_VALUE = re.compile(
    r"\[\[sealed-value:([a-z_]{1,30}):([A-Za-z0-9_-]{16,64}):([A-Za-z0-9_-]{1,600})\]\]"
)


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


def sealed_value_new(purpose, value):
    """A placeholder standing for ``value``, a secret chosen elsewhere (at most
    450 characters), which the stored text never shows in clear."""
    nonce = secrets.token_urlsafe(16)
    data = value.encode()
    sealed = bytes(a ^ b for a, b in zip(data, _keystream(purpose, nonce, len(data)), strict=True))
    return f"[[sealed-value:{purpose}:{nonce}:{_b64(sealed)}]]"


def _keystream(purpose, nonce, length):
    blocks = (
        salted_hmac(
            f"smt_portal.sealed_values.{purpose}", f"{nonce}:{i}", algorithm="sha256"
        ).digest()
        for i in range(-(-length // 32))
    )
    return b"".join(blocks)[:length]


def _b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _open_value(purpose, nonce, sealed):
    data = base64.urlsafe_b64decode(sealed + "=" * (-len(sealed) % 4))
    return bytes(
        a ^ b for a, b in zip(data, _keystream(purpose, nonce, len(data)), strict=True)
    ).decode(errors="replace")  # a rotated SECRET_KEY sends garbage, never crashes


def unseal(text):
    """Replace every placeholder in ``text`` with its token (at send time)."""
    text = _PLACEHOLDER.sub(lambda m: _derive(m.group(1), m.group(2)), text)
    return _SEALED_VALUE.sub(lambda m: _open_value(*m.groups()), text)


def tokens_in(text):
    """The tokens ``text``'s placeholders stand for (tests, the dev outbox),
    then the sealed values."""
    return [_derive(purpose, nonce) for purpose, nonce in _PLACEHOLDER.findall(text)] + [
        _open_value(*groups) for groups in _SEALED_VALUE.findall(text)
    ]
