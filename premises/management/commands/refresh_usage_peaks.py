import time

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Max, Min
from django.utils import timezone

from premises.models import Premise
from premises.services import premises_usage_peaks_refresh, usage_window


class Command(BaseCommand):
    help = (
        "Store every premise's peak monthly usage of the current 12-month window, so that "
        "premise authentication reads no usage rows. Run it once a month, after the month "
        "turns (in Central time) and before the month's usage import: until then, premises "
        "whose stored peak is of the previous window are classified from their usage rows "
        "(correct, only slower). Idempotent; one transaction per --slice premises."
    )

    def add_arguments(self, parser):
        parser.add_argument("--slice", type=int, default=50_000, help="premises per transaction")

    def handle(self, *args, slice, **options):
        if slice < 1:
            raise CommandError("--slice must be at least 1")
        started, now = time.monotonic(), timezone.now()
        bounds = Premise.objects.aggregate(low=Min("pk"), high=Max("pk"))
        updated = 0
        if bounds["low"] is not None:
            for low in range(bounds["low"], bounds["high"] + 1, slice):
                updated += premises_usage_peaks_refresh(
                    premises=Premise.objects.filter(pk__gte=low, pk__lt=low + slice), now=now
                )
        _, end = usage_window(now=now)
        self.stdout.write(
            f"Stored the peak of the 12 months before {end:%Y-%m} for {updated} premises; "
            f"{time.monotonic() - started:.1f}s."
        )
