"""The application runs with a database role that cannot rewrite the record
quietly (issue 16): docker-compose connects web, worker and beat as that role,
only `migrate` as the owner, and deploy/postgres-roles.sql makes it."""

import uuid
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from django.db import DatabaseError, connection, transaction

from affirmations.models import RecordEvent
from affirmations.records import record_append, records_verify
from smt_portal.actors import Actor

from .conftest import NOW

ROOT = Path(settings.BASE_DIR)


def _compose():
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_the_application_connects_as_the_restricted_role_and_only_migrate_as_the_owner():
    services = _compose()["services"]
    for name in ("web", "worker", "beat"):
        assert services[name]["environment"]["DATABASE_URL"].startswith("postgres://portal_app:")
    assert services["migrate"]["environment"]["DATABASE_URL"].startswith("postgres://portal:")
    assert services["postgres"]["environment"]["POSTGRES_USER"] == "portal"
    mounts = " ".join(services["postgres"]["volumes"])
    assert "./deploy/postgres-init.sh:/docker-entrypoint-initdb.d/" in mounts
    assert "./deploy/postgres-roles.sql:/deploy/postgres-roles.sql" in mounts
    assert "postgres-roles.sql" in (ROOT / "deploy" / "postgres-init.sh").read_text()


def test_the_checkpoint_file_lives_on_a_volume_of_its_own():
    compose = _compose()
    path = compose["services"]["web"]["environment"]["RECORD_CHECKPOINT_FILE"]
    for name in ("web", "worker", "beat"):
        volumes = compose["services"][name]["volumes"]
        assert any(path.startswith(v.split(":")[1] + "/") for v in volumes), name
    assert "recordcheckpoints" in compose["volumes"]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="roles exist on PostgreSQL only")
@pytest.mark.django_db
def test_the_init_scripts_role_appends_records_but_cannot_disable_the_trigger_or_truncate():
    role = f"portal_app_{uuid.uuid4().hex[:8]}"
    script = (ROOT / "deploy" / "postgres-roles.sql").read_text()
    script = script.replace(":'app_password'", "'test-only'").replace("portal_app", role)
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(script)
        cursor.execute(f"SET LOCAL ROLE {role}")
    try:
        record_append(event=RecordEvent.OTHER, actor=Actor.system(), now=NOW)
        for attack, refusal in (
            (
                "ALTER TABLE affirmations_record DISABLE TRIGGER affirmations_record_append_only",
                "must be owner",
            ),
            ("TRUNCATE affirmations_record", "permission denied"),
            ("DROP TABLE affirmations_record", "must be owner"),
            ("UPDATE affirmations_record SET actor = 'x'", "append-only"),
            ("DELETE FROM affirmations_record", "append-only"),
        ):
            with pytest.raises(DatabaseError, match=refusal), transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute(attack)
        assert records_verify().intact
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET ROLE")
