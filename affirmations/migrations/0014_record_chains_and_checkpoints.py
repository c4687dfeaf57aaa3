"""The record as many independent chains, and signed checkpoints (issue 16).

Existing rows become chain 0, numbered in id order, with hash version 1 (their
hashes do not cover chain and seq, so they keep verifying); the old single
head row becomes chain 0's head. (TRUNCATE is kept from the application by its
database role, deploy/postgres-roles.sql: a trigger would also refuse the test
runner's flush.)
"""

from django.db import migrations, models

CHAINS = 16
GENESIS_HASH = "0" * 64

NUMBER_POSTGRESQL = """
ALTER TABLE affirmations_record DISABLE TRIGGER affirmations_record_append_only;
UPDATE affirmations_record r SET chain = 0, seq = n.seq, hash_version = 1
FROM (SELECT id, row_number() OVER (ORDER BY id) AS seq FROM affirmations_record) n
WHERE r.id = n.id;
ALTER TABLE affirmations_record ENABLE TRIGGER affirmations_record_append_only;
"""


def number_existing_rows(apps, schema_editor):
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(NUMBER_POSTGRESQL)
        else:
            cursor.execute("SELECT id FROM affirmations_record ORDER BY id")
            ids = [row[0] for row in cursor.fetchall()]
            cursor.executemany(
                "UPDATE affirmations_record SET chain = 0, seq = %s, hash_version = 1"
                " WHERE id = %s",
                [(seq, pk) for seq, pk in enumerate(ids, start=1)],
            )
        cursor.execute("SELECT count(*), max(id) FROM affirmations_record")
        count, newest = cursor.fetchone()
        last_hash = GENESIS_HASH
        if newest is not None:
            cursor.execute("SELECT hash FROM affirmations_record WHERE id = %s", [newest])
            last_hash = cursor.fetchone()[0]
        cursor.execute("DELETE FROM affirmations_recordchainhead")
    Head = apps.get_model("affirmations", "RecordChainHead")
    Head.objects.bulk_create(
        [Head(chain=0, last_seq=count, last_hash=last_hash)]
        + [Head(chain=c, last_seq=0, last_hash=GENESIS_HASH) for c in range(1, CHAINS)]
    )


def forget_chains(apps, schema_editor):
    apps.get_model("affirmations", "RecordChainHead").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("affirmations", "0013_holiday_calendar")]

    operations = [
        migrations.RemoveField(model_name="recordchainhead", name="last_record_id"),
        migrations.AddField(
            model_name="recordchainhead",
            name="chain",
            field=models.SmallIntegerField(null=True),
        ),
        migrations.AddField(
            model_name="recordchainhead",
            name="last_seq",
            field=models.BigIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="record", name="chain", field=models.SmallIntegerField(default=0)
        ),
        migrations.AddField(
            model_name="record", name="hash_version", field=models.SmallIntegerField(default=2)
        ),
        migrations.AddField(
            model_name="record", name="seq", field=models.BigIntegerField(null=True)
        ),
        migrations.RunPython(number_existing_rows, forget_chains, elidable=False),
        migrations.AlterField(model_name="record", name="seq", field=models.BigIntegerField()),
        migrations.AlterField(
            model_name="recordchainhead",
            name="chain",
            field=models.SmallIntegerField(unique=True),
        ),
        migrations.AddConstraint(
            model_name="record",
            constraint=models.UniqueConstraint(
                fields=("chain", "seq"), name="record_chain_seq_unique"
            ),
        ),
        migrations.CreateModel(
            name="RecordCheckpoint",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("sealed_at", models.DateTimeField()),
                ("heads", models.JSONField()),
                ("digest", models.CharField(max_length=64, unique=True)),
                ("line", models.TextField(blank=True)),
                ("filed_at", models.DateTimeField(blank=True, null=True)),
            ],
            options={
                "ordering": ["-id"],
                "default_permissions": ("view",),
                "permissions": [("seal_recordcheckpoint", "Can seal a record checkpoint now")],
            },
        ),
    ]
