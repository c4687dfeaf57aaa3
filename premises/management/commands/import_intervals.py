from django.core.management.base import BaseCommand
from django.utils import timezone
from tqdm import tqdm

from premises.interval_feed import INTERVAL_COLUMNS, interval_feed_import

from ._feed import existing_file, run_feed


class Command(BaseCommand):
    help = (
        "Import 15-minute data: a Smart Meter Texas interval CSV with the header "
        f"{','.join(INTERVAL_COLUMNS)} (dates MM/DD/YYYY, times HH:MM Central, the end "
        "either the wall-clock end or the start plus 15 minutes, A/E, Consumption or Surplus "
        "Generation, REVISION_DATE MM/DD/YYYY with an optional HH:MM:SS). A day's lines come "
        "together and make the whole day (92, 96 or 100 intervals; the fall-back day's "
        "repeated hour in file order, daylight time first). Every line is checked first; if "
        "any is bad, each is printed as 'line N: reason' and nothing is written. A later "
        "revision of a day replaces the stored one; on a tie this import wins."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=existing_file, help="the CSV file")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args, file, no_progress, **options):
        now = timezone.now()
        # PostgreSQL: the lines COPYed, then the SQL steps by name; a file read line by
        # line (SQLite, or a file the SQL cannot vouch for) in two passes (check, then
        # write): the bar counts the lines read in each.
        with tqdm(
            unit="line",
            file=self.stderr._out,
            disable=no_progress or not self.stderr.isatty(),
        ) as bar:
            counts = run_feed(
                self,
                file,
                lambda: interval_feed_import(
                    path=file, now=now, on_progress=bar.update, on_phase=bar.set_description_str
                ),
            )
        self.stdout.write(f"{file}: {counts}")
