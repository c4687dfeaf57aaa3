"""Signed checkpoints of the record, filed outside the database (issue 16)."""

import base64
import json
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.management import CommandError, call_command

from affirmations.checkpoints import (
    CheckpointKeyMissing,
    checkpoint_public_key,
    record_checkpoint_seal,
)
from affirmations.models import RecordChainHead, RecordCheckpoint, RecordEvent
from affirmations.records import record_append, record_chain_of, records_verify
from affirmations.tasks import seal_record_checkpoint
from outbox.models import OutboundEmail
from smt_portal.actors import Actor

from .conftest import NOW, request_agreement, residential

pytestmark = pytest.mark.django_db


def _lines(settings):
    return Path(settings.RECORD_CHECKPOINT_FILE).read_text().splitlines()


def _raw_key(key):
    return base64.b64encode(
        key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
    ).decode()


def test_a_checkpoint_signs_every_chains_head_and_is_filed_and_emailed(
    settings, active_csp, other_csp
):
    request_agreement(active_csp, residential())
    request_agreement(other_csp, residential())

    checkpoint = record_checkpoint_seal(now=NOW)

    heads = {str(h.chain): [h.last_seq, h.last_hash] for h in RecordChainHead.objects.all()}
    heads = {c: h for c, h in heads.items() if h[0] > 0}
    assert checkpoint.heads == heads
    assert set(heads) == {str(record_chain_of(active_csp.pk)), str(record_chain_of(other_csp.pk))}
    [line] = _lines(settings)
    filed = json.loads(line)
    assert (filed["checkpoint"], filed["chains"]) == (checkpoint.pk, heads)
    assert line == checkpoint.line and checkpoint.filed_at == NOW
    email = OutboundEmail.objects.get(kind="record_checkpoint")
    assert email.to_address == settings.COMMITTEE_EMAIL
    assert line in email.body_text
    assert f"#{checkpoint.pk}" in email.subject
    check = records_verify()
    assert check.intact and check.checkpoints == 1, check.problems


def test_sealing_again_with_no_new_record_writes_nothing_new(settings, active_csp):
    request_agreement(active_csp, residential())
    first = record_checkpoint_seal(now=NOW)
    again = record_checkpoint_seal(now=NOW)

    assert again.pk == first.pk
    assert len(_lines(settings)) == 1
    assert OutboundEmail.objects.filter(kind="record_checkpoint").count() == 1


def test_production_without_a_signing_key_refuses_to_seal(settings):
    settings.RECORD_CHECKPOINT_SIGNING_KEY = ""
    settings.RECORD_CHECKPOINT_DEV_KEY = False

    with pytest.raises(CheckpointKeyMissing):
        record_checkpoint_seal(now=NOW)
    with pytest.raises(CommandError, match="RECORD_CHECKPOINT_SIGNING_KEY"):
        call_command("seal_record_checkpoint")
    # The periodic job says so without stopping the jobs after it.
    assert seal_record_checkpoint()["record_checkpoint"].startswith("refused: ")
    assert not RecordCheckpoint.objects.exists()


def test_the_key_from_the_environment_signs_and_its_public_key_alone_verifies(settings, active_csp):
    key = Ed25519PrivateKey.generate()
    settings.RECORD_CHECKPOINT_SIGNING_KEY = _raw_key(key)
    settings.RECORD_CHECKPOINT_DEV_KEY = False
    request_agreement(active_csp, residential())
    record_checkpoint_seal(now=NOW)

    # The verifying side holds only the public key, as PEM.
    settings.RECORD_CHECKPOINT_SIGNING_KEY = ""
    settings.RECORD_CHECKPOINT_PUBLIC_KEY = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    assert records_verify().intact

    # A checkpoint signed with another key (the dev key) is not trusted.
    settings.RECORD_CHECKPOINT_PUBLIC_KEY = ""
    settings.RECORD_CHECKPOINT_DEV_KEY = True
    assert checkpoint_public_key() is not None
    check = records_verify()
    assert [p.kind for p in check.problems] == ["checkpoint"]
    assert "signature does not verify" in check.problem


def test_a_checkpoint_a_dead_worker_did_not_file_is_filed_by_the_next_seal(settings, active_csp):
    request_agreement(active_csp, residential())
    first = record_checkpoint_seal(now=NOW)
    # As if the worker died after the commit, before the line was written.
    Path(settings.RECORD_CHECKPOINT_FILE).unlink()
    RecordCheckpoint.objects.filter(pk=first.pk).update(filed_at=None)
    record_append(event=RecordEvent.OTHER, actor=Actor.system(), now=NOW)

    second = record_checkpoint_seal(now=NOW)

    assert [json.loads(line)["checkpoint"] for line in _lines(settings)] == [first.pk, second.pk]
    assert records_verify().intact


def test_the_periodic_task_and_the_command_seal_a_checkpoint(settings, capsys):
    record_append(event=RecordEvent.OTHER, actor=Actor.system(), now=NOW)

    result = seal_record_checkpoint()
    call_command("seal_record_checkpoint")

    assert result == {"record_checkpoint": RecordCheckpoint.objects.get().pk}
    assert "Checkpoint #" in capsys.readouterr().out
    assert settings.PERIODIC_JOBS["affirmations.tasks.seal_record_checkpoint"] == 3600
    assert "affirmations.tasks.seal_record_checkpoint" in settings.CELERY_BEAT_SCHEDULE


def test_a_tampered_checkpoint_line_is_named(settings, active_csp):
    request_agreement(active_csp, residential())
    record_checkpoint_seal(now=NOW)
    path = Path(settings.RECORD_CHECKPOINT_FILE)
    line = json.loads(path.read_text())
    chain = next(iter(line["chains"]))
    line["chains"][chain][0] -= 1  # claim fewer rows, to hide a later truncation
    path.write_text(json.dumps(line) + "\n")

    with pytest.raises(CommandError, match="line 1: tampered checkpoint"):
        call_command("verify_records")


def test_an_unsigned_checkpoint_line_is_named_and_not_trusted(settings, active_csp):
    request_agreement(active_csp, residential())
    record_checkpoint_seal(now=NOW)
    path = Path(settings.RECORD_CHECKPOINT_FILE)
    forged = json.loads(path.read_text())
    del forged["signature"]
    forged["chains"] = {"0": [999, "f" * 64]}
    with path.open("a") as file:
        file.write(json.dumps(forged) + "\n")

    check = records_verify()
    assert [p.message for p in check.problems] == [
        "checkpoint file line 2: unsigned checkpoint, not trusted"
    ]


def test_an_emptied_checkpoint_file_is_named(settings, active_csp):
    request_agreement(active_csp, residential())
    record_checkpoint_seal(now=NOW)
    Path(settings.RECORD_CHECKPOINT_FILE).unlink()

    with pytest.raises(CommandError, match="checkpoint file .* is missing"):
        call_command("verify_records")


def test_a_checkpoint_and_a_record_are_named_in_central_time(settings, active_csp):
    record = record_append(event=RecordEvent.OTHER, actor=Actor.system(), now=NOW, csp=active_csp)
    checkpoint = record_checkpoint_seal(now=NOW)

    central = NOW.astimezone(ZoneInfo("America/Chicago"))
    shown = f"{central:%Y-%m-%d %H:%M:%S} {central:%Z}"
    assert str(record).endswith(shown) and str(RecordCheckpoint.objects.get()).endswith(shown)
    assert checkpoint is not None
