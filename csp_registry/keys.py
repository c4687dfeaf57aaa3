"""API key format, hashing and parsing.

A key reads ``smt_<prefix>_<secret>`` (a sandbox key ``smt_test_<prefix>_<secret>``,
glossary "Sandbox"): the 8-character prefix is stored in
clear (people recognise keys by it, and it finds the row through a unique
index); the secret is 256 random bits. Only SHA-256 of the whole key is
stored. A slow password hash (PBKDF2, Argon2) defends low-entropy secrets
against guessing; a 256-bit random secret cannot be guessed, so one fast hash
per request is enough and keeps authentication cheap.
"""

import hashlib
import hmac
import secrets
import string

KEY_LABEL = "smt"
SANDBOX_LABEL = "test"
PREFIX_LENGTH = 8
_PREFIX_ALPHABET = string.ascii_lowercase + string.digits


def generate_key(*, sandbox=False):
    """A new ``(prefix, full_key)``; the caller stores the prefix and the hash."""
    prefix = "".join(secrets.choice(_PREFIX_ALPHABET) for _ in range(PREFIX_LENGTH))
    label = f"{KEY_LABEL}_{SANDBOX_LABEL}" if sandbox else KEY_LABEL
    return prefix, f"{label}_{prefix}_{secrets.token_urlsafe(32)}"


def hash_key(full_key):
    return hashlib.sha256(full_key.encode()).hexdigest()


def split_key(full_key):
    """The prefix of a well-formed key, or ``None``."""
    label, _, rest = full_key.partition("_")
    prefix, _, secret = rest.partition("_")
    if prefix == SANDBOX_LABEL:  # smt_test_<prefix>_<secret>; no prefix is 4 characters
        prefix, _, secret = secret.partition("_")
    if label != KEY_LABEL or len(prefix) != PREFIX_LENGTH or not secret:
        return None
    if not all(char in _PREFIX_ALPHABET for char in prefix):
        return None
    return prefix


def key_matches(full_key, hashed_key):
    # Constant-time, so response timing reveals nothing about the stored hash.
    return hmac.compare_digest(hash_key(full_key), hashed_key)
