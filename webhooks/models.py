"""Webhook endpoints a CSP registers, and the delivery of each event to each endpoint.

A delivery row is written in the transaction of the event it carries (the
event seam's subscriber, ``services.deliveries_queue``) and sent after commit;
like the email outbox, rows are claimed one at a time by conditional UPDATEs
with a lease, retried with backoff until ``deliver_until``, and every attempt
is kept (``WebhookAttempt``) so staff and the CSP can see what happened.
"""

from django.db import models
from django.db.models import Q

from csp_registry.models import Csp, CspEvent


class WebhookEndpoint(models.Model):
    """A URL of a CSP's that receives the events it subscribed to, signed.

    The signing secret is not stored: ``secret_seal`` is a random nonce from
    which only the portal (with ``SECRET_KEY``) rebuilds it (``secrets.py``),
    so the admin, a backup or a replica cannot sign or read it. Endpoints are
    never deleted: a CSP's DELETE sets ``deleted_at``; their deliveries stay.
    """

    csp = models.ForeignKey(Csp, on_delete=models.PROTECT, related_name="webhook_endpoints")
    url = models.CharField("URL", max_length=2000)
    # Event types (csp_registry.models.EventType values) this endpoint receives.
    event_types = models.JSONField(default=list)
    secret_seal = models.CharField(max_length=64, editable=False)
    # The secret's first characters, for people to tell secrets apart.
    secret_prefix = models.CharField(max_length=16, editable=False)
    created_at = models.DateTimeField()
    # Set on the first failed attempt after a success, cleared by the next
    # success: every attempt since has failed. Long enough, and it is disabled.
    failing_since = models.DateTimeField(null=True, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.TextField(blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "webhook endpoint"
        ordering = ["-id"]
        indexes = [
            models.Index(
                fields=["csp"],
                condition=Q(deleted_at__isnull=True, disabled_at__isnull=True),
                name="webhook_endpoint_live_idx",
            ),
        ]

    def __str__(self):
        # The URL may carry a CSP's own token in its query: not in logs or messages.
        return f"webhook endpoint #{self.pk} of CSP {self.csp_id}"

    @property
    def is_live(self):
        return self.deleted_at is None and self.disabled_at is None


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


UNSENT_STATUSES = (DeliveryStatus.PENDING.value, DeliveryStatus.SENDING.value)


class WebhookDelivery(models.Model):
    """One event to one endpoint, until it is delivered, fails or is cancelled.

    ``next_attempt_at`` is when the row is next due: for a pending row the end
    of its backoff, for a sending row the end of its claim (lease). Rows of a
    suspended CSP wait (they are not due) and get a fresh window when it is
    reinstated; rows of a revoked CSP are cancelled.
    """

    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.PROTECT, related_name="deliveries"
    )
    event = models.ForeignKey(CspEvent, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    deliver_until = models.DateTimeField()
    claim_token = models.CharField(max_length=32, blank=True, editable=False)
    claimed_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        verbose_name = "webhook delivery"
        verbose_name_plural = "webhook deliveries"
        ordering = ["-id"]
        permissions = [("resend_webhookdelivery", "Can send webhook deliveries again")]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=DeliveryStatus.values), name="webhook_delivery_status_valid"
            ),
            models.UniqueConstraint(
                fields=["endpoint", "event"], name="webhook_delivery_once_per_endpoint"
            ),
        ]
        indexes = [
            # The sweep reads only unsent rows; finished ones never enter this index.
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status__in=UNSENT_STATUSES),
                name="webhook_delivery_due_idx",
            ),
        ]

    def __str__(self):
        return f"delivery #{self.pk} of event #{self.event_id} ({self.status})"


class WebhookAttempt(models.Model):
    """One POST of a delivery: when, how long, what came back (or why nothing did)."""

    delivery = models.ForeignKey(
        WebhookDelivery, on_delete=models.PROTECT, related_name="attempt_log"
    )
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField(default=0)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    # The start of the receiver's answer, at most 500 characters.
    response_excerpt = models.CharField(max_length=500, blank=True)

    class Meta:
        verbose_name = "webhook attempt"
        ordering = ["id"]
        indexes = [models.Index(fields=["delivery", "id"], name="webhook_attempt_delivery_idx")]

    def __str__(self):
        return f"attempt #{self.pk} of delivery #{self.delivery_id}"
