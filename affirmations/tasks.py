"""Periodic jobs of agreements (R24). Thin: each takes one ``now`` and calls a
service; the services select by due-date columns, so a missed run catches up."""

import logging

from celery import shared_task
from django.utils import timezone

from .sandbox import sandbox_answer_task, sandbox_answers_run
from .services import (
    agreements_end_terms,
    agreements_remind_sharing,
    agreements_time_out,
    renewals_time_out,
)

logger = logging.getLogger(__name__)

__all__ = ["sandbox_answer_task"]  # scheduled per sandbox request; registered with the worker


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


@shared_task
def answer_sandbox_requests():
    """The sandbox's scripted customers whose answer a lost task did not give."""
    return {"sandbox_answered": sandbox_answers_run(now=timezone.now())}


@shared_task
def seal_record_checkpoint():
    """Sign every chain's head now and file it outside the database (issue 16)."""
    from .checkpoints import CheckpointKeyMissing, record_checkpoint_seal

    try:
        checkpoint = record_checkpoint_seal(now=timezone.now())
    except CheckpointKeyMissing as exc:
        # Loud in the log and in run_jobs' output, without stopping the other jobs.
        logger.error("record checkpoint not sealed: %s", exc)
        return {"record_checkpoint": f"refused: {exc}"}
    return {"record_checkpoint": checkpoint.pk}
