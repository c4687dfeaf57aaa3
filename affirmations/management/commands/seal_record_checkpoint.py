from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from affirmations.checkpoints import CheckpointKeyMissing, record_checkpoint_seal


class Command(BaseCommand):
    help = (
        "Seal a signed checkpoint of every chain of the record now: stored, emailed to the "
        "committee and appended to RECORD_CHECKPOINT_FILE (nothing new if no chain moved)."
    )

    def handle(self, *args, **options):
        try:
            checkpoint = record_checkpoint_seal(now=timezone.now())
        except CheckpointKeyMissing as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            self.style.SUCCESS(
                f"Checkpoint #{checkpoint.pk} sealed {checkpoint.sealed_at:%Y-%m-%d %H:%M:%S}: "
                f"{len(checkpoint.heads)} chains."
            )
        )
