import time

from celery import current_app
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = (
        "Run every periodic job once, now: time-outs, term ends, the email relay, "
        "monitoring sweeps. Safe to run at any time, and again."
    )

    def add_arguments(self, parser):
        parser.add_argument("--only", action="append", default=[], help="run just this task name")

    def handle(self, *args, only, **options):
        current_app.loader.import_default_modules()
        names = only or list(settings.PERIODIC_JOBS)
        missing = [name for name in names if name not in current_app.tasks]
        if missing:
            raise CommandError(f"unknown job(s): {', '.join(missing)}")
        for name in names:
            started = time.monotonic()
            # apply() runs the task body here, in this process, without a broker.
            result = current_app.tasks[name].apply(throw=True).get()
            elapsed = time.monotonic() - started
            self.stdout.write(f"{name}: {result!r} ({elapsed:.2f}s)")
