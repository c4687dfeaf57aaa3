import time

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from premises.services import premises_usage_peaks_refresh_stale, usage_window


class Command(BaseCommand):
    help = (
        "Store the peak monthly usage of the current 12-month window for every premise whose "
        "stored peak is of another window (the month turned) or was cleared by a usage write, "
        "so that premise authentication reads no usage rows. The periodic job "
        "premises.tasks.refresh_usage_peaks does the same hourly; until it runs, such premises "
        "are classified from their usage rows (correct, only slower). Idempotent; one "
        "transaction per --slice premises."
    )

    def add_arguments(self, parser):
        parser.add_argument("--slice", type=int, default=50_000, help="premises per transaction")

    def handle(self, *args, slice, **options):
        if slice < 1:
            raise CommandError("--slice must be at least 1")
        started, now = time.monotonic(), timezone.now()
        updated = premises_usage_peaks_refresh_stale(now=now, slice_size=slice)
        _, end = usage_window(now=now)
        self.stdout.write(
            f"Stored the peak of the 12 months before {end:%Y-%m} for {updated} premises; "
            f"{time.monotonic() - started:.1f}s."
        )
