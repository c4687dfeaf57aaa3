"""What the portal watches: the record of every premise authentication attempt (R3, R18)."""

from django.db import models
from django.db.models import Q


class AuthenticationFailure(models.TextChoices):
    """Which fact was wrong. Staff-only: a CSP is never told (R3)."""

    UNKNOWN_ESI_ID = "unknown_esi_id", "Unknown ESI ID"
    METER_MISMATCH = "meter_mismatch", "Meter number is not the active meter"
    REP_MISMATCH = "rep_mismatch", "Certificate number is not the REP of record"


class PremiseAuthenticationAttempt(models.Model):
    """One attempt by a CSP (or a customer signing up) to authenticate a premise.

    Written for every attempt, successful or not, with the identifiers as they
    were compared (already normalised). A big, append-only table: monitoring
    reads it per CSP and per IP address over time windows, hence the indexes.
    """

    created_at = models.DateTimeField()
    # Indexed together with created_at below; a separate FK index would be redundant.
    csp = models.ForeignKey(
        "csp_registry.Csp",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        db_index=False,
        related_name="premise_authentication_attempts",
        help_text="Empty for attempts made outside the CSP API (customer sign-up).",
    )
    ip = models.GenericIPAddressField("client IP address", null=True, blank=True)
    esi_id = models.CharField("ESI ID", max_length=22)
    meter_number = models.CharField(max_length=32)
    rep_certificate_number = models.CharField("REP certificate number", max_length=10)
    authenticated = models.BooleanField()
    failure_reason = models.CharField(
        max_length=20, choices=AuthenticationFailure.choices, blank=True
    )
    # The premise the ESI ID named, if any; the ESI ID itself is kept above, so
    # the record survives a premise leaving the feed.
    premise = models.ForeignKey(
        "premises.Premise",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="authentication_attempts",
    )

    class Meta:
        verbose_name = "premise authentication attempt"
        constraints = [
            models.CheckConstraint(
                condition=(Q(authenticated=True) & Q(failure_reason=""))
                | (Q(authenticated=False) & Q(failure_reason__in=AuthenticationFailure.values)),
                name="attempt_failure_reason_iff_failed",
            ),
        ]
        indexes = [
            models.Index(fields=["csp", "created_at"], name="attempt_csp_time_idx"),
            models.Index(fields=["ip", "created_at"], name="attempt_ip_time_idx"),
            models.Index(fields=["esi_id", "created_at"], name="attempt_esi_id_time_idx"),
            models.Index(fields=["created_at"], name="attempt_time_idx"),
        ]

    def __str__(self):
        outcome = "authenticated" if self.authenticated else f"failed ({self.failure_reason})"
        return f"{self.esi_id} {outcome} at {self.created_at:%Y-%m-%d %H:%M:%S}"
