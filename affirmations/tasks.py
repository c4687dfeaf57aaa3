"""Periodic jobs of agreements (R24). Thin: each takes one ``now`` and calls a
service; the services select by due-date columns, so a missed run catches up."""

from celery import shared_task
from django.utils import timezone

from .services import (
    agreements_end_terms,
    agreements_remind_sharing,
    agreements_time_out,
    renewals_time_out,
)


@shared_task
def time_out_unanswered_requests():
    return {"timed_out": agreements_time_out(now=timezone.now())}


@shared_task
def end_finished_terms():
    return {"term_ended": agreements_end_terms(now=timezone.now())}


@shared_task
def time_out_unanswered_renewals():
    return {"renewals_timed_out": renewals_time_out(now=timezone.now())}


@shared_task
def remind_sharing_customers():
    return {"sharing_reminded": agreements_remind_sharing(now=timezone.now())}
