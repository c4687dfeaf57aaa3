from django.db import migrations

# On PostgreSQL the database itself refuses to change or delete a record,
# whoever asks. (SQLite, for laptops, relies on the ORM guards.)
CREATE = """
CREATE OR REPLACE FUNCTION affirmations_record_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'affirmations_record is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER affirmations_record_append_only
    BEFORE UPDATE OR DELETE ON affirmations_record
    FOR EACH ROW EXECUTE FUNCTION affirmations_record_append_only();
"""
DROP = """
DROP TRIGGER IF EXISTS affirmations_record_append_only ON affirmations_record;
DROP FUNCTION IF EXISTS affirmations_record_append_only();
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        # No params: the function body contains a literal "%".
        schema_editor.execute(CREATE, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("affirmations", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
