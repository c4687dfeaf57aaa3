"""Celery tasks for the outbox: thin wrappers that take ids and call services."""

from celery import shared_task
from django.utils import timezone

from outbox import services


@shared_task(name="outbox.tasks.send_email")
def send_email(email_id):
    """Send one queued email; a second run, or a run for a sent row, does nothing."""
    return services.email_send(email_id=email_id, now=timezone.now())


@shared_task(name="outbox.tasks.relay_pending_emails")
def relay_pending_emails():
    """The beat sweep: send every email still due (broker or worker was down)."""
    return services.emails_relay_pending(now=timezone.now())
