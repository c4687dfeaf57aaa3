from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from tqdm import tqdm

from premises.interval_synthetic import (
    IntervalGenerationFailed,
    default_workers,
    intervals_generate,
)
from premises.models import Premise


class Command(BaseCommand):
    help = (
        "Write synthetic 15-minute data for the last N local (Central) days up to yesterday "
        "of the first premises by ESI ID (all when --premises is omitted), consistent with "
        "each premise's monthly usage: daily shape, weekday/weekend, summer peak, some "
        "estimated intervals, some days revised. Deterministic by --seed: run again with the "
        "same seed it writes the same values, whatever --workers. On PostgreSQL --workers "
        "processes write at once, each a range of the premises by ESI ID; SQLite has one writer."
    )

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, required=True, help="number of local days")
        parser.add_argument("--premises", type=int, help="the first N premises by ESI ID")
        parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
        parser.add_argument(
            "--workers",
            type=int,
            default=default_workers(),
            help="parallel writers on PostgreSQL (default min(4, CPUs); 1 on SQLite)",
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args, days, premises, seed, workers, no_progress, **options):
        if days < 1 or (premises is not None and premises < 0) or workers < 1:
            raise CommandError(
                "--days must be at least 1, --premises at least 0 and --workers at least 1"
            )
        total = Premise.objects.count()
        with tqdm(
            total=min(total, premises) if premises is not None else total,
            unit="premise",
            file=self.stderr._out,
            disable=no_progress or not self.stderr.isatty(),
        ) as bar:
            try:
                result = intervals_generate(
                    days=days,
                    premises=premises,
                    seed=seed,
                    now=timezone.now(),
                    workers=workers,
                    on_progress=bar.update,
                )
            except IntervalGenerationFailed as failed:
                raise CommandError(str(failed)) from None
        self.stdout.write(
            f"{result.premises} premises, {result.first_day} to {result.last_day}: "
            f"{result.counts} ({result.workers} writer{'s' if result.workers > 1 else ''})"
        )
