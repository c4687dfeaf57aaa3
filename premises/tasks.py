"""Periodic jobs of the premises app (thin: they call a service)."""

from celery import shared_task
from django.utils import timezone

from .services import premises_usage_peaks_refresh_stale


@shared_task(name="premises.tasks.refresh_usage_peaks")
def refresh_usage_peaks():
    return premises_usage_peaks_refresh_stale(now=timezone.now())
