"""Whether the email asking a customer to affirm reached their mail server.

A CSP whose request email could not be delivered (refused, or retried until
its link's deadline) must learn it from the agreement, not by waiting out
the five weekdays. The outbox knows each email by its label
``agreement:<id>``; the newest affirmation request (or its reminder) speaks
for the agreement.
"""

from django.db.models import CharField, OuterRef, Subquery, Value
from django.db.models.functions import Cast, Concat

from outbox.models import EmailStatus, OutboundEmail

REQUEST_KINDS = ("affirmation_request", "affirmation_reminder")

DELIVERY_OF_STATUS = {
    EmailStatus.PENDING: "queued",
    EmailStatus.SENDING: "queued",
    EmailStatus.SENT: "sent",
    EmailStatus.FAILED: "failed",
}


def _request_emails():
    return OutboundEmail.objects.filter(kind__in=REQUEST_KINDS).order_by("-pk")


def with_affirmation_email_status(agreements):
    """Annotate a queryset with the newest request email's status, in the same SELECT."""
    label = Concat(Value("agreement:"), Cast(OuterRef("pk"), CharField()))
    newest = _request_emails().filter(related_label=label).values("status")[:1]
    return agreements.annotate(affirmation_email_row_status=Subquery(newest))


def affirmation_email_status(agreement) -> str:
    """``queued``, ``sent`` or ``failed``; one query unless the queryset was annotated."""
    if hasattr(agreement, "affirmation_email_row_status"):
        status = agreement.affirmation_email_row_status
    else:
        status = (
            _request_emails()
            .filter(related_label=f"agreement:{agreement.pk}")
            .values_list("status", flat=True)
            .first()
        )
    return DELIVERY_OF_STATUS.get(status, "queued")
