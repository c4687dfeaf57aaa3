from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from premises.feeds import PREMISE_COLUMNS, premise_feed_import

from ._feed import existing_file, iso_date, run_feed


class Command(BaseCommand):
    help = (
        "Import a TDU premise feed: a CSV with the header "
        f"{','.join(PREMISE_COLUMNS)} (customer_class is residential or commercial). "
        "Every row is checked first; if any is bad, each is printed as 'line N: reason' and "
        "nothing is written. Otherwise, in one transaction: a new ESI ID becomes a premise "
        "with an active meter, a new meter number is a meter exchange, a new certificate "
        "number a switch of REP of record, and an identical row changes nothing, so the same "
        "file can be imported again. An optional column occupant_since (YYYY-MM-DD, not in the "
        "future) is the current customer's move-in date: a new one ends every pending or "
        "active agreement on the premise made before it (reason occupant_changed)."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=existing_file, help="the CSV file")
        parser.add_argument(
            "--effective-date",
            type=iso_date,
            help="YYYY-MM-DD of meter installs and exchanges (default: today, Central time)",
        )

    def handle(self, *args, file, effective_date, **options):
        now = timezone.now()
        if effective_date and effective_date > timezone.localdate(now):
            raise CommandError("--effective-date must not be in the future")
        counts = run_feed(
            self,
            file,
            lambda: premise_feed_import(path=file, now=now, effective_date=effective_date),
        )
        self.stdout.write(f"{file}: {counts}")
