from datetime import timedelta

from django.db import migrations, models
from django.db.models import F


def fill_deliver_until(apps, schema_editor):
    # Rows queued before this field retry for the default window from their creation.
    OutboundEmail = apps.get_model("outbox", "OutboundEmail")
    OutboundEmail.objects.filter(deliver_until__isnull=True).update(
        deliver_until=F("created_at") + timedelta(hours=72)
    )


class Migration(migrations.Migration):
    dependencies = [
        ("outbox", "0002_outbox_retry_permission"),
    ]

    operations = [
        migrations.AddField(
            model_name="outboundemail",
            name="deliver_until",
            field=models.DateTimeField(null=True),
        ),
        migrations.RunPython(fill_deliver_until, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="outboundemail",
            name="deliver_until",
            field=models.DateTimeField(),
        ),
    ]
