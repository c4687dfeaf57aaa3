"""The precomputed 12-month usage peak of each premise, and the triggers that
clear it whenever the premise's usage is written, by any path (ORM, COPY, raw
SQL): a stored peak is only used for the window it was computed for, and only
while no usage row of its premise has changed since.

The PostgreSQL trigger updates every premise named, even one already cleared:
the row lock it takes makes it wait for a concurrent refresh
(``premises_usage_peaks_refresh`` locks its premises first) and clear after it,
never be skipped by it."""

from django.db import migrations, models

_POSTGRESQL = [
    """
    CREATE FUNCTION premises_usage_peak_clear() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP IN ('INSERT', 'UPDATE') THEN
            UPDATE premises_premise SET usage_peak_window_end = NULL
            WHERE id IN (SELECT premise_id FROM new_usage);
        END IF;
        IF TG_OP IN ('UPDATE', 'DELETE') THEN
            UPDATE premises_premise SET usage_peak_window_end = NULL
            WHERE id IN (SELECT premise_id FROM old_usage);
        END IF;
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE TRIGGER premises_usage_peak_clear_insert AFTER INSERT ON premises_monthlyusage
    REFERENCING NEW TABLE AS new_usage
    FOR EACH STATEMENT EXECUTE FUNCTION premises_usage_peak_clear()
    """,
    """
    CREATE TRIGGER premises_usage_peak_clear_update AFTER UPDATE ON premises_monthlyusage
    REFERENCING OLD TABLE AS old_usage NEW TABLE AS new_usage
    FOR EACH STATEMENT EXECUTE FUNCTION premises_usage_peak_clear()
    """,
    """
    CREATE TRIGGER premises_usage_peak_clear_delete AFTER DELETE ON premises_monthlyusage
    REFERENCING OLD TABLE AS old_usage
    FOR EACH STATEMENT EXECUTE FUNCTION premises_usage_peak_clear()
    """,
]
_POSTGRESQL_REVERSE = ["DROP FUNCTION premises_usage_peak_clear() CASCADE"]

_SQLITE = [
    """
    CREATE TRIGGER premises_usage_peak_clear_insert AFTER INSERT ON premises_monthlyusage
    BEGIN
        UPDATE premises_premise SET usage_peak_window_end = NULL WHERE id = NEW.premise_id;
    END
    """,
    """
    CREATE TRIGGER premises_usage_peak_clear_update AFTER UPDATE ON premises_monthlyusage
    BEGIN
        UPDATE premises_premise SET usage_peak_window_end = NULL
        WHERE id IN (OLD.premise_id, NEW.premise_id);
    END
    """,
    """
    CREATE TRIGGER premises_usage_peak_clear_delete AFTER DELETE ON premises_monthlyusage
    BEGIN
        UPDATE premises_premise SET usage_peak_window_end = NULL WHERE id = OLD.premise_id;
    END
    """,
]
_SQLITE_REVERSE = [
    f"DROP TRIGGER premises_usage_peak_clear_{event}" for event in ("insert", "update", "delete")
]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        for statement in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("premises", "0011_sandbox_defaults_in_the_database"),
    ]

    operations = [
        migrations.AddField(
            model_name="premise",
            name="usage_peak_kwh",
            field=models.DecimalField(
                blank=True, decimal_places=3, editable=False, max_digits=12, null=True
            ),
        ),
        migrations.AddField(
            model_name="premise",
            name="usage_peak_window_end",
            field=models.DateField(blank=True, editable=False, null=True),
        ),
        migrations.RunPython(
            _run({"postgresql": _POSTGRESQL, "sqlite": _SQLITE}),
            _run({"postgresql": _POSTGRESQL_REVERSE, "sqlite": _SQLITE_REVERSE}),
        ),
    ]
