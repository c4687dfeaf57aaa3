"""Periodic monitoring sweep (Celery beat every 15 minutes; ``manage.py run_jobs``)."""

from celery import shared_task
from django.utils import timezone

from .services import detectors_run


@shared_task(name="monitoring.tasks.run_detectors")
def run_detectors():
    return detectors_run(now=timezone.now())
