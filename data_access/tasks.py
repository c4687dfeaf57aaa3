"""Celery tasks of meter-data access: thin wrappers that call services."""

from celery import shared_task
from django.utils import timezone

from . import services


@shared_task(name="data_access.tasks.announce_left_behind_data")
def announce_left_behind_data():
    """The beat sweep: ``data.available`` for imports that ended without announcing."""
    return services.data_available_sweep(now=timezone.now())
