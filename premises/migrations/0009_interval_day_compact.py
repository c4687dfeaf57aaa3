# Written by hand: the 15-minute days become compact (premises.intervals.pack_wh:
# a width byte, then int16 watt-hours unless a value needs int32; the estimated
# bitmask without trailing zero bytes). On PostgreSQL the table is rebuilt with
# its fixed-width columns first, 8-byte aligned, so a row carries no padding.
# Days stored in the old int32 encoding are discarded, not converted (there is
# no production data; generate_intervals or import_intervals write them again):
# the new decoder refuses them rather than misread them.

from django.db import migrations

COMPACT_TABLE = """
CREATE TABLE premises_intervalday (
    premise_id bigint NOT NULL
        REFERENCES premises_premise (id) DEFERRABLE INITIALLY DEFERRED,
    revision_at timestamp with time zone NOT NULL,
    imported_at timestamp with time zone NOT NULL,
    day date NOT NULL,
    wh bytea NOT NULL,
    estimated bytea NOT NULL,
    surplus_wh bytea NULL,
    PRIMARY KEY (premise_id, day)
) PARTITION BY RANGE (day)
"""

OLD_TABLE = """
CREATE TABLE premises_intervalday (
    premise_id bigint NOT NULL
        REFERENCES premises_premise (id) DEFERRABLE INITIALLY DEFERRED,
    day date NOT NULL,
    wh bytea NOT NULL,
    estimated bytea NOT NULL,
    surplus_wh bytea NULL,
    revision_at timestamp with time zone NOT NULL,
    imported_at timestamp with time zone NOT NULL,
    PRIMARY KEY (premise_id, day)
) PARTITION BY RANGE (day)
"""


def _rebuild(schema_editor, create):
    if schema_editor.connection.vendor == "postgresql":
        # Dropping a partitioned table drops its partitions; the writer creates them again.
        schema_editor.execute("DROP TABLE premises_intervalday")
        schema_editor.execute(create)
    else:
        schema_editor.execute("DELETE FROM premises_intervalday")


def compact(apps, schema_editor):
    _rebuild(schema_editor, COMPACT_TABLE)


def uncompact(apps, schema_editor):
    _rebuild(schema_editor, OLD_TABLE)


class Migration(migrations.Migration):
    dependencies = [
        ("premises", "0008_interval_write"),
    ]

    operations = [
        migrations.RunPython(compact, uncompact),
    ]
