"""Tasks the Redis-blip fault script loads into the portal's worker with
``--include bench.faults.blip_tasks``: load that keeps the worker busy, and a
probe whose effect (a file) shows that the worker still consumes. Never part
of the portal itself."""

import time
from pathlib import Path

from celery import shared_task


@shared_task(name="bench.faults.busy")
def busy(seconds):
    """Hold a pool slot, as a slow email send would."""
    time.sleep(seconds)


@shared_task(name="bench.faults.mark")
def mark(path, token):
    """Write ``token`` to ``path``: the script waits for the file after a blip."""
    Path(path).write_text(token)
