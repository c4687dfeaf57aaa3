"""Celery tasks of the webhooks: thin wrappers that take ids and call services."""

from celery import shared_task
from django.utils import timezone

from . import services


@shared_task(name="webhooks.tasks.send_webhook_delivery")
def send_webhook_delivery(delivery_id):
    """Send one delivery if it is due; a second run, or one for a finished row, does nothing."""
    return services.delivery_send(delivery_id=delivery_id, now=timezone.now())


@shared_task(name="webhooks.tasks.relay_webhook_deliveries")
def relay_webhook_deliveries():
    """The beat sweep: every delivery still due, after expiring and disabling what must stop."""
    return services.deliveries_relay_pending(now=timezone.now())
