"""What the customer is told when an agreement's status changes: a subscriber.

``affirmations.transitions`` calls ``customer_notices`` once the new status is
written, inside the change's transaction, with every agreement it moved; the
emails are queued through the outbox and their ids go into the record. No
service picks emails itself: a new way of ending an agreement is told to its
customer because it is a status change, not because someone remembered.
"""

from . import emails
from .lifecycle.links import termination_link_new
from .models import Agreement, AgreementStatus, RecordEvent
from .rules import OCCUPANT_CHANGED

# Agreements of one set-based change are loaded and emailed in chunks.
NOTICE_CHUNK = 5000


def customer_notices(moved, *, record_event, now) -> dict[int, dict]:
    """Queue each moved agreement's email; return ``{agreement_id: {"email_id": …}}``."""
    handler = _HANDLERS.get(record_event)
    if handler is None:
        return {}
    sent = {}
    for start in range(0, len(moved), NOTICE_CHUNK):
        chunk = moved[start : start + NOTICE_CHUNK]
        sent.update(handler(_loaded(chunk), {m.agreement_id: m.from_status for m in chunk}, now))
    return {pk: {"email_id": email_id} for pk, email_id in sent.items()}


def _loaded(moved):
    agreements = (
        Agreement.objects.filter(pk__in=[m.agreement_id for m in moved])
        .select_related("csp", "disclosure")
        .prefetch_related("premises")
        .order_by("pk")
    )
    return list(agreements)


def _each(email):
    def send(agreements, from_status, now):
        return {
            agreement.pk: email(agreement=agreement, premises=list(agreement.premises.all()),
                                now=now).pk
            for agreement in agreements
        }  # fmt: skip

    return send


def _opted_in(agreements, from_status, now):
    # The customer has no account: the receipt's link is how they end it.
    sent = {}
    for agreement in agreements:
        end_url = termination_link_new(agreement.pk, expires_at=agreement.term_end, now=now)
        sent[agreement.pk] = emails.email_receipt_opted_in(
            agreement=agreement, premises=list(agreement.premises.all()), end_url=end_url,
            now=now,
        ).pk  # fmt: skip
    return sent


def _terminated(agreements, from_status, now):
    # A move-in ends many at once (an import): their notices go in one INSERT.
    moved_out = [a for a in agreements if a.end_reason == OCCUPANT_CHANGED]
    sent = _moved_out(moved_out, from_status, now) if moved_out else {}
    return sent | {
        agreement.pk: emails.email_agreement_terminated(
            agreement=agreement, premises=list(agreement.premises.all()),
            was_active=from_status[agreement.pk] == AgreementStatus.ACTIVE, now=now,
        ).pk
        for agreement in agreements
        if agreement.end_reason != OCCUPANT_CHANGED
    }  # fmt: skip


def _moved_out(agreements, from_status, now):
    was_active = {a.pk: from_status[a.pk] == AgreementStatus.ACTIVE for a in agreements}
    created = emails.emails_agreement_occupant_changed_many(
        agreements=agreements, was_active=was_active, now=now
    )
    return {a.pk: email.pk for a, email in zip(agreements, created, strict=True)}


def _revoked(agreements, from_status, now):
    # A pending request revoked shared nothing: nothing to tell.
    was_active = [a for a in agreements if from_status[a.pk] == AgreementStatus.ACTIVE]
    return _each(emails.email_agreement_revoked)(was_active, from_status, now)


def _term_ended(agreements, from_status, now):
    # One INSERT for the whole chunk; a sweep's records stay lean (no email ids).
    emails.emails_receipt_term_ended_many(agreements=agreements, now=now)
    return {}


_HANDLERS = {
    RecordEvent.OPTED_IN: _opted_in,
    RecordEvent.OPTED_OUT: _each(emails.email_receipt_opted_out),
    RecordEvent.REPORTED_SPAM: _each(emails.email_receipt_reported_spam),
    RecordEvent.TERMINATED: _terminated,
    RecordEvent.REVOKED: _revoked,
    RecordEvent.TERM_ENDED: _term_ended,
    # A request that timed out was never answered: the customer is not written to again.
}
