"""The record's agreement and CSP columns lose their own indexes:
``record_agreement_idx`` and ``record_csp_idx`` lead with them.

Only the two indexes are dropped. Django's AlterField would also drop and
re-add both foreign keys, re-checking every row of a table that only grows.
"""

import django.db.models.deletion
from django.db import migrations, models


def drop_foreign_key_indexes(apps, schema_editor):
    table = "affirmations_record"
    for column in ("agreement_id", "csp_id"):
        name = schema_editor._create_index_name(table, [column])
        schema_editor.execute(f"DROP INDEX IF EXISTS {schema_editor.quote_name(name)}")


def recreate_foreign_key_indexes(apps, schema_editor):
    record = apps.get_model("affirmations", "Record")
    for column in ("agreement_id", "csp_id"):
        name = schema_editor._create_index_name(record._meta.db_table, [column])
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {schema_editor.quote_name(name)}"
            f" ON {schema_editor.quote_name(record._meta.db_table)} ({column})"
        )


class Migration(migrations.Migration):
    dependencies = [
        ("affirmations", "0014_record_chains_and_checkpoints"),
        ("csp_registry", "0010_sandbox_defaults_in_the_database"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="record",
                    name="agreement",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="records",
                        to="affirmations.agreement",
                    ),
                ),
                migrations.AlterField(
                    model_name="record",
                    name="csp",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="records",
                        to="csp_registry.csp",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunPython(drop_foreign_key_indexes, recreate_foreign_key_indexes),
            ],
        ),
    ]
