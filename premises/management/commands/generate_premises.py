import os
import time

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from tqdm import tqdm

from premises.models import TermPolicy
from premises.synthetic import (
    BATCH_SIZE,
    USAGE_MONTHS,
    SyntheticDataError,
    premise_sample_triples,
    premises_generate,
)


class Command(BaseCommand):
    help = (
        "Create synthetic but realistic premises, each with an active meter and "
        f"{USAGE_MONTHS} complete months of usage (Texas seasonal shape; about 10% commercial, "
        "a quarter of those large commercial). Deterministic: candidate i of a seed is always "
        "the same premise, and candidates whose ESI ID already exists are skipped, so running "
        "it again with the same seed creates nothing new and a larger --count adds the rest. "
        "Run seed_reference_data first. Uses COPY on PostgreSQL: millions are feasible."
    )

    def add_arguments(self, parser):
        parser.add_argument("--count", type=int, required=True, help="number of premises")
        parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
        parser.add_argument(
            "--batch-size", type=int, default=BATCH_SIZE, help="premises per transaction"
        )
        parser.add_argument(
            "--workers",
            type=int,
            default=min(4, os.cpu_count() or 1),
            help="batches written at once on PostgreSQL (default: CPUs, at most 4)",
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")
        parser.add_argument(
            "--samples", type=int, default=3, help="sample premises to print at the end"
        )

    def handle(self, *args, count, seed, batch_size, workers, no_progress, samples, **options):
        if count < 0 or batch_size < 1 or workers < 1:
            raise CommandError("--count must be at least 0, --batch-size and --workers at least 1")
        started = time.monotonic()
        # tqdm writes to the real stream; off when it is not a terminal (logs, CI, tests).
        with tqdm(
            total=count,
            unit="premise",
            file=self.stderr._out,
            disable=no_progress or not self.stderr.isatty(),
        ) as bar:
            try:
                result = premises_generate(
                    count=count,
                    seed=seed,
                    now=timezone.now(),
                    batch_size=batch_size,
                    workers=workers,
                    on_progress=bar.update,
                )
            except SyntheticDataError as exc:
                raise CommandError(str(exc)) from None
        self._summary(result, seconds=time.monotonic() - started)
        self._samples(samples)

    def _summary(self, result, *, seconds):
        self.stdout.write(
            f"Created {result.created} premises with meters and {result.usage_rows} monthly "
            f"usage rows ({result.first_month:%Y-%m} to {result.last_month:%Y-%m}); "
            f"skipped {result.skipped_existing} already present; {seconds:.1f}s."
        )

    def _samples(self, count):
        if count < 1:
            return
        threshold = TermPolicy.current().large_commercial_threshold_kwh
        rows = [
            ("residential", triple)
            for triple in premise_sample_triples(count=count, customer_class="residential")
        ]
        rows += [
            ("large commercial", triple)
            for triple in premise_sample_triples(
                count=1, customer_class="commercial", min_monthly_kwh=threshold
            )
        ]
        if not rows:
            return
        self.stdout.write("Sample premises (esi_id / meter_number / rep_certificate_number):")
        for label, (esi_id, meter_number, certificate) in rows:
            self.stdout.write(f"  {esi_id} / {meter_number} / {certificate}  ({label})")
