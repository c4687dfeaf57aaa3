"""The request log's ``csp`` column loses its own index: ``api_log_csp_time_idx``
leads with it, and every API request writes every index of this table.

Only the index is dropped. Django's AlterField would also drop and re-add the
foreign key, re-checking every row of a table that only grows.
"""

import django.db.models.deletion
from django.db import migrations, models

_TABLE = "csp_registry_apirequestlog"


def drop_csp_index(apps, schema_editor):
    name = schema_editor._create_index_name(_TABLE, ["csp_id"])
    schema_editor.execute(f"DROP INDEX IF EXISTS {schema_editor.quote_name(name)}")


def recreate_csp_index(apps, schema_editor):
    name = schema_editor._create_index_name(_TABLE, ["csp_id"])
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {schema_editor.quote_name(name)}"
        f" ON {schema_editor.quote_name(_TABLE)} (csp_id)"
    )


class Migration(migrations.Migration):
    dependencies = [("csp_registry", "0010_sandbox_defaults_in_the_database")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="apirequestlog",
                    name="csp",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="csp_registry.csp",
                    ),
                ),
            ],
            database_operations=[migrations.RunPython(drop_csp_index, recreate_csp_index)],
        ),
    ]
