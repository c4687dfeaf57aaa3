"""The record's ``hash`` and a link's ``token_hash`` lose the second index
PostgreSQL was given for each (``varchar_pattern_ops``, for ``LIKE 'x%'``).

Nothing searches a hash by its beginning; both are found by equality, which
the unique index answers. Every agreement request wrote both indexes for its
link and its two records, and every sweep for each record (issue 16).
Only the indexes change: the model state is the same.
"""

from django.db import migrations

_PATTERN_INDEXED = [("affirmations_record", "hash"), ("affirmations_agreementlink", "token_hash")]


def drop_pattern_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table, column in _PATTERN_INDEXED:
        name = schema_editor._create_index_name(table, [column], suffix="_like")
        schema_editor.execute(f"DROP INDEX IF EXISTS {schema_editor.quote_name(name)}")


def recreate_pattern_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table, column in _PATTERN_INDEXED:
        name = schema_editor._create_index_name(table, [column], suffix="_like")
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {schema_editor.quote_name(name)}"
            f" ON {schema_editor.quote_name(table)} ({column} varchar_pattern_ops)"
        )


class Migration(migrations.Migration):
    dependencies = [("affirmations", "0015_record_drops_indexes_its_composites_cover")]

    operations = [migrations.RunPython(drop_pattern_indexes, recreate_pattern_indexes)]
