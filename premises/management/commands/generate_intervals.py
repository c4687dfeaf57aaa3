from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from tqdm import tqdm

from premises.interval_synthetic import intervals_generate
from premises.models import Premise


class Command(BaseCommand):
    help = (
        "Write synthetic 15-minute data for the last N local (Central) days up to yesterday "
        "of the first premises by ESI ID (all when --premises is omitted), consistent with "
        "each premise's monthly usage: daily shape, weekday/weekend, summer peak, some "
        "estimated intervals, some days revised. Deterministic by --seed: run again with the "
        "same seed it writes the same values."
    )

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, required=True, help="number of local days")
        parser.add_argument("--premises", type=int, help="the first N premises by ESI ID")
        parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args, days, premises, seed, no_progress, **options):
        if days < 1 or (premises is not None and premises < 0):
            raise CommandError("--days must be at least 1 and --premises at least 0")
        total = Premise.objects.count()
        with tqdm(
            total=min(total, premises) if premises is not None else total,
            unit="premise",
            file=self.stderr._out,
            disable=no_progress or not self.stderr.isatty(),
        ) as bar:
            result = intervals_generate(
                days=days, premises=premises, seed=seed, now=timezone.now(), on_progress=bar.update
            )
        self.stdout.write(
            f"{result.premises} premises, {result.first_day} to {result.last_day}: {result.counts}"
        )
