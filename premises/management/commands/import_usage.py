from django.core.management.base import BaseCommand
from django.utils import timezone

from premises.feeds import USAGE_COLUMNS, usage_feed_import

from ._feed import existing_file, run_feed


class Command(BaseCommand):
    help = (
        f"Import monthly consumption: a CSV with the header {','.join(USAGE_COLUMNS)} "
        "(month as YYYY-MM, kwh a non-negative number with at most 3 decimals, the ESI ID "
        "already imported). Every row is checked first; if any is bad, each is printed as "
        "'line N: reason' and nothing is written. Otherwise rows are upserted by (ESI ID, "
        "month) in one transaction, so the same file can be imported again."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=existing_file, help="the CSV file")

    def handle(self, *args, file, **options):
        now = timezone.now()
        counts = run_feed(self, file, lambda: usage_feed_import(path=file, now=now))
        self.stdout.write(f"{file}: {counts}")
