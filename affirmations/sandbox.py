"""The sandbox's scripted customers (glossary "Sandbox").

A sandbox agreement (made with a ``smt_test_…`` key, on sandbox premises) has
no real customer: its address at ``premises.sandbox.SANDBOX_EMAIL_DOMAIN``
says what the customer does, through the same services as a real answer, so
the statuses, records, webhooks and events are those of a live agreement:

- ``opt-in@…``      opts in ``ANSWER_AFTER`` after the request (the current disclosures);
- ``opt-out@…``     opts out, as late;
- ``spam@…``        reports the request as spam, as late;
- ``no-answer@…``   times out at once (its deadline is treated as passed);
- any other address at the domain never answers: it times out after five weekdays.

A request schedules ``sandbox_answer_task`` ``ANSWER_AFTER`` later (after
commit); ``sandbox_answers_run`` answers every due one (tests call it with a
frozen clock; a lost task is caught up by the next call).
"""

from datetime import timedelta

from celery import shared_task
from django.db import transaction
from django.utils import timezone

from premises.sandbox import SANDBOX_EMAIL_DOMAIN, is_sandbox_address
from smt_portal.actors import Actor

from .lifecycle.decisions import (
    agreement_opt_in,
    agreement_opt_out,
    agreement_report_spam,
    disclosure_current,
)
from .lifecycle.errors import AgreementError
from .models import Agreement, AgreementStatus, EndedBy, RecordEvent
from .transitions import agreements_transition

ANSWER_AFTER = timedelta(seconds=5)
OPT_IN, OPT_OUT, SPAM, NO_ANSWER = "opt-in", "opt-out", "spam", "no-answer"
SCRIPTED = {f"{name}@{SANDBOX_EMAIL_DOMAIN}": name for name in (OPT_IN, OPT_OUT, SPAM, NO_ANSWER)}


def script_of(email: str) -> str:
    """What the scripted customer at ``email`` does ("" for none)."""
    return SCRIPTED.get(email.strip().lower(), "") if is_sandbox_address(email) else ""


def _actor():
    return Actor.customer(label="sandbox script")


def sandbox_answer(*, agreement, now) -> bool:
    """Play the script of one pending sandbox agreement if it is due; True if it answered."""
    script = script_of(agreement.customer_email)
    if not agreement.sandbox or agreement.status != AgreementStatus.PENDING_AFFIRMATION:
        return False
    if not script or (script != NO_ANSWER and now < agreement.created_at + ANSWER_AFTER):
        return False
    try:
        if script == OPT_IN:
            agreement_opt_in(
                agreement=agreement, actor=_actor(), disclosure=disclosure_current(), now=now
            )
        elif script == OPT_OUT:
            agreement_opt_out(agreement=agreement, actor=_actor(), now=now)
        elif script == SPAM:
            agreement_report_spam(agreement=agreement, actor=_actor(), now=now)
        else:
            moved = agreements_transition(
                due=Agreement.objects.filter(
                    pk=agreement.pk, sandbox=True, status=AgreementStatus.PENDING_AFFIRMATION
                ),
                to_status=AgreementStatus.TIMED_OUT, record_event=RecordEvent.TIMED_OUT,
                actor=Actor.system("sandbox script"), now=now, ended_by=EndedBy.SYSTEM,
                reason="No answer (a sandbox customer who never answers).",
            )  # fmt: skip
            return bool(moved)
    except AgreementError:
        return False  # answered meanwhile, or the provider cannot be opted into now
    return True


def sandbox_answers_run(*, now) -> int:
    """Answer every pending sandbox agreement whose scripted customer answers by ``now``."""
    due = Agreement.objects.select_related("csp").filter(
        sandbox=True,
        status=AgreementStatus.PENDING_AFFIRMATION,
        customer_email__in=list(SCRIPTED),
        created_at__lte=now,
    )
    return sum(sandbox_answer(agreement=agreement, now=now) for agreement in due)


def sandbox_answer_schedule(agreement) -> None:
    """After the request commits, answer it when its script says (a Celery countdown)."""
    if not agreement.sandbox or not script_of(agreement.customer_email):
        return
    delay = 0 if script_of(agreement.customer_email) == NO_ANSWER else ANSWER_AFTER.seconds
    transaction.on_commit(
        lambda: sandbox_answer_task.apply_async(args=[agreement.pk], countdown=delay)
    )


@shared_task
def sandbox_answer_task(agreement_id):
    agreement = Agreement.objects.select_related("csp").filter(pk=agreement_id).first()
    if agreement is None:
        return {"answered": False}
    # The countdown has waited: a worker's clock a little behind still answers.
    now = max(timezone.now(), agreement.created_at + ANSWER_AFTER)
    return {"answered": sandbox_answer(agreement=agreement, now=now)}
