"""Periodic jobs of the CSP registry (thin: they call a service)."""

from celery import shared_task
from django.utils import timezone

from .services import idempotency_keys_purge


@shared_task(name="csp_registry.tasks.purge_expired_idempotency_keys")
def purge_expired_idempotency_keys():
    return idempotency_keys_purge(now=timezone.now())
