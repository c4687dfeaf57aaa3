"""The transactional email outbox: one row per email, written in the same
transaction as the change that causes it, sent after commit."""

from django.db import models
from django.db.models import Q


class EmailStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


UNSENT_STATUSES = (EmailStatus.PENDING.value, EmailStatus.SENDING.value)


class OutboundEmail(models.Model):
    """One email to one address, rendered when queued.

    ``next_attempt_at`` is when the row is next due: for a pending row the end
    of its backoff, for a sending row the end of its claim (lease). A claim that
    outlives it belonged to a worker that died mid-send, so the sweep can take
    the row again with the same "due" test it uses for pending rows.
    """

    kind = models.CharField(max_length=64)
    language = models.CharField(max_length=8)
    to_address = models.EmailField()
    subject = models.CharField(max_length=255)
    body_text = models.TextField()
    body_html = models.TextField()
    status = models.CharField(
        max_length=10, choices=EmailStatus.choices, default=EmailStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    # Retrying stops here: the deadline of the link the email carries, or a
    # staff-set window for emails without one. Past it the row fails visibly.
    deliver_until = models.DateTimeField()
    claimed_at = models.DateTimeField(null=True, blank=True)
    # Which claim owns the row; a worker whose lease was taken over cannot
    # mark the row with its late result.
    claim_token = models.CharField(max_length=32, blank=True, editable=False)
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField()
    # A plain label ("agreement:42") rather than a foreign key: the outbox
    # must not depend on the apps that queue email.
    related_label = models.CharField(max_length=64, blank=True, db_index=True)

    class Meta:
        verbose_name = "outbound email"
        permissions = [("retry_outboundemail", "Can send failed emails again")]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=EmailStatus.values), name="outbox_email_status_valid"
            ),
        ]
        indexes = [
            # The sweep reads only unsent rows; sent ones never enter this index.
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status__in=UNSENT_STATUSES),
                name="outbox_email_unsent_due_idx",
            ),
        ]

    def __str__(self):
        # No address or content: __str__ ends up in logs and admin messages.
        return f"{self.kind} email #{self.pk} ({self.status})"
