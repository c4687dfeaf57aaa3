"""Signed checkpoints of the record, kept where the database login cannot
rewrite them (issue 16).

A checkpoint states every chain's newest seq and hash at one time, signed with
an Ed25519 key from the environment (``RECORD_CHECKPOINT_SIGNING_KEY``, never
in the database). Each is stored as a row (for listing), queued by email to
the committee (the outbox: a dead worker loses nothing) and appended as one
JSON line to ``RECORD_CHECKPOINT_FILE`` (O_APPEND, fsync). ``verify_records``
reads that file, checks each line's signature and compares the chains with it:
rows deleted off the end, or rewritten with every later hash recomputed, no
longer match what was signed.
"""

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils.timezone import localtime

from .models import RecordChainHead, RecordCheckpoint

# What is signed starts with this, so a signature over anything else (another
# use of the same key) can never pass for a checkpoint.
SIGNED_PREFIX = b"smt-record-checkpoint-v1\n"
EMAIL_KIND = "record_checkpoint"


class CheckpointKeyMissing(Exception):
    """Production (DEBUG off) has no RECORD_CHECKPOINT_SIGNING_KEY."""


def _decode_private(text):
    text = text.strip()
    if text.startswith("-----BEGIN"):
        key = serialization.load_pem_private_key(text.encode(), password=None)
    else:
        key = Ed25519PrivateKey.from_private_bytes(base64.b64decode(text))
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("RECORD_CHECKPOINT_SIGNING_KEY is not an Ed25519 key")
    return key


def _decode_public(text):
    text = text.strip()
    if text.startswith("-----BEGIN"):
        key = serialization.load_pem_public_key(text.encode())
    else:
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(text))
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("RECORD_CHECKPOINT_PUBLIC_KEY is not an Ed25519 key")
    return key


def checkpoint_signing_key():
    """The private key: from the environment, or in development and tests one
    derived from SECRET_KEY (stable across processes). None in production
    without one: sealing is refused."""
    configured = getattr(settings, "RECORD_CHECKPOINT_SIGNING_KEY", "")
    if configured:
        return _decode_private(configured)
    if getattr(settings, "RECORD_CHECKPOINT_DEV_KEY", False):
        seed = hashlib.sha256(b"smt-record-checkpoint-dev:" + settings.SECRET_KEY.encode())
        return Ed25519PrivateKey.from_private_bytes(seed.digest())
    return None


def checkpoint_public_key():
    configured = getattr(settings, "RECORD_CHECKPOINT_PUBLIC_KEY", "")
    if configured:
        return _decode_public(configured)
    private = checkpoint_signing_key()
    return private.public_key() if private is not None else None


def _public_text(key):
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def _signed_bytes(statement):
    return SIGNED_PREFIX + json.dumps(statement, sort_keys=True, separators=(",", ":")).encode()


def _heads_now():
    """Every non-empty chain's head, read in one statement: one consistent
    moment (each append moves its head in the transaction of its rows)."""
    return {
        str(chain): [seq, last_hash]
        for chain, seq, last_hash in RecordChainHead.objects.filter(last_seq__gt=0)
        .order_by("chain")
        .values_list("chain", "last_seq", "last_hash")
    }


def record_checkpoint_seal(*, now):
    """Seal a checkpoint of every chain's head now; return it.

    Idempotent: when no chain moved since the newest checkpoint, that one is
    returned and nothing new is written. Raises ``CheckpointKeyMissing`` in
    production without a signing key. Call it in a transaction of its own (the
    task, the command and the admin do): the line it files states what is
    committed."""
    from outbox.services import email_queue

    key = checkpoint_signing_key()
    if key is None:
        raise CheckpointKeyMissing(
            "RECORD_CHECKPOINT_SIGNING_KEY is not set: checkpoints cannot be signed"
        )
    heads = _heads_now()
    digest = hashlib.sha256(json.dumps(heads, sort_keys=True).encode()).hexdigest()
    existing = RecordCheckpoint.objects.filter(digest=digest).first()
    if existing is None:
        try:
            with transaction.atomic():
                checkpoint = RecordCheckpoint.objects.create(
                    sealed_at=now, heads=heads, digest=digest
                )
                statement = {
                    "checkpoint": checkpoint.pk,
                    "sealed_at": now.astimezone(UTC).isoformat(),
                    "chains": heads,
                }
                signature = base64.b64encode(key.sign(_signed_bytes(statement))).decode()
                line = json.dumps(
                    {**statement, "key": _public_text(key.public_key()), "signature": signature},
                    sort_keys=True,
                    separators=(",", ":"),
                )
                RecordCheckpoint.objects.filter(pk=checkpoint.pk).update(line=line)
                checkpoint.line = line
                email_queue(
                    kind=EMAIL_KIND,
                    to=settings.COMMITTEE_EMAIL,
                    language="en",
                    context={
                        "checkpoint_id": checkpoint.pk,
                        "sealed_at": now,
                        "chains": [(int(c), s, h) for c, (s, h) in heads.items()],
                        "line": line,
                    },
                    now=now,
                    related_label=f"record-checkpoint:{checkpoint.pk}",
                )
        except IntegrityError:
            # Sealed at the same moment by another process.
            existing = RecordCheckpoint.objects.get(digest=digest)
    checkpoints_file_pending(now=now)
    if existing is not None:
        existing.refresh_from_db()
        return existing
    checkpoint.refresh_from_db()
    return checkpoint


def _checkpoint_path(path=None):
    return Path(path or settings.RECORD_CHECKPOINT_FILE)


def checkpoints_file_pending(*, now):
    """Append every checkpoint not yet filed to the file, oldest first, and
    mark it filed. A crash between the write and the mark files a line twice,
    which the reader ignores; never a line lost."""
    path = _checkpoint_path()
    with transaction.atomic():
        pending = list(
            RecordCheckpoint.objects.select_for_update(skip_locked=True)
            .filter(filed_at__isnull=True)
            .exclude(line="")
            .order_by("id")
        )
        if not pending:
            return 0
        path.parent.mkdir(parents=True, exist_ok=True)
        data = "".join(c.line + "\n" for c in pending).encode()
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        RecordCheckpoint.objects.filter(pk__in=[c.pk for c in pending]).update(filed_at=now)
    return len(pending)


@dataclass(frozen=True)
class Checkpoint:
    """One verified line of the checkpoint file."""

    id: int
    sealed_at: datetime
    heads: dict  # chain (int) -> (seq, hash)

    @property
    def name(self):
        return f"checkpoint #{self.id} of {localtime(self.sealed_at):%Y-%m-%d %H:%M:%S %Z}"


def checkpoints_read(*, path=None):
    """The checkpoints whose signature verifies, and a Problem for each line
    that is unreadable, unsigned or tampered with."""
    from .records import Problem

    path = _checkpoint_path(path)
    if not path.exists():
        filed = RecordCheckpoint.objects.filter(filed_at__isnull=False).count()
        if filed:
            return [], [
                Problem(
                    None, None, "checkpoint",
                    f"the checkpoint file {path} is missing; {filed} checkpoints were filed to it",
                )
            ]  # fmt: skip
        return [], []
    public = checkpoint_public_key()
    checkpoints, problems, seen = [], [], set()
    with path.open("rb") as file:
        lines = file.read().decode("utf-8", errors="replace").splitlines()
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        where = f"checkpoint file line {number}"
        try:
            data = json.loads(text)
            statement = {k: data[k] for k in ("checkpoint", "sealed_at", "chains")}
            heads = {int(c): (int(s), str(h)) for c, (s, h) in statement["chains"].items()}
            sealed_at = datetime.fromisoformat(statement["sealed_at"])
        except (ValueError, KeyError, TypeError, AttributeError):
            problems.append(Problem(None, None, "checkpoint", f"{where}: unreadable"))
            continue
        if not data.get("signature"):
            problems.append(
                Problem(None, None, "checkpoint", f"{where}: unsigned checkpoint, not trusted")
            )
            continue
        if public is None:
            problems.append(
                Problem(
                    None, None, "checkpoint",
                    f"{where}: cannot be checked: set RECORD_CHECKPOINT_PUBLIC_KEY",
                )
            )  # fmt: skip
            continue
        try:
            public.verify(base64.b64decode(data["signature"]), _signed_bytes(statement))
        except (InvalidSignature, ValueError, TypeError):
            problems.append(
                Problem(
                    None, None, "checkpoint",
                    f"{where}: tampered checkpoint: its signature does not verify",
                )
            )  # fmt: skip
            continue
        if text in seen:
            continue
        seen.add(text)
        checkpoints.append(Checkpoint(int(statement["checkpoint"]), sealed_at, heads))
    return checkpoints, problems
