"""Competitive Service Providers: who they are, how to reach them, their status."""

import ipaddress

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q


class CspStatus(models.TextChoices):
    PENDING_REVIEW = "pending_review", "Pending review"
    ACTIVE = "active", "Active"
    SUSPENDED = "suspended", "Suspended"
    REVOKED = "revoked", "Revoked"


def parse_ip_ranges(text):
    """The registered source ranges, one CIDR per line or comma-separated."""
    networks = []
    for token in text.replace(",", "\n").split():
        try:
            networks.append(ipaddress.ip_network(token, strict=False))
        except ValueError:
            raise ValidationError(f"{token!r} is not an IP address or CIDR range") from None
    return networks


def validate_ip_ranges(text):
    parse_ip_ranges(text)


class Csp(models.Model):
    """A Competitive Service Provider registered with the portal (R1)."""

    legal_name = models.CharField(max_length=200)
    dba_name = models.CharField("DBA", max_length=200, blank=True)
    duns_number = models.CharField("DUNS number", max_length=13)
    puct_registration_number = models.CharField(
        "PUCT registration number", max_length=20, blank=True
    )
    contact_name = models.CharField(max_length=200)
    contact_email = models.EmailField()
    contact_phone = models.CharField(max_length=40)
    # Enforcement notices (R21) go here, not to the day-to-day contact.
    notice_email = models.EmailField()
    mailing_address = models.TextField()
    website_url = models.URLField(blank=True)
    privacy_policy_url = models.URLField("privacy policy URL")
    scope_of_use = models.TextField(
        help_text="What the CSP will do with the data, shown to customers word for word."
    )
    registered_ip_ranges = models.TextField(
        "registered source IP ranges",
        blank=True,
        validators=[validate_ip_ranges],
        help_text="Optional. One CIDR per line; API calls from elsewhere are refused.",
    )
    status = models.CharField(
        max_length=20, choices=CspStatus.choices, default=CspStatus.PENDING_REVIEW
    )
    status_changed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "CSP"
        verbose_name_plural = "CSPs"
        ordering = ["legal_name"]
        permissions = [
            ("review_csp", "Can approve and reject CSP applications"),
            ("enforce_csp", "Can suspend, reinstate and revoke CSPs"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=CspStatus.values), name="csp_status_valid"
            ),
        ]
        indexes = [models.Index(fields=["status"], name="csp_status_idx")]

    def __str__(self):
        return self.display_name

    @property
    def display_name(self):
        return self.dba_name or self.legal_name

    @property
    def is_active(self):
        return self.status == CspStatus.ACTIVE

    @property
    def ip_networks(self):
        return parse_ip_ranges(self.registered_ip_ranges)


class CspStatusChange(models.Model):
    """One change of a CSP's status: who, when, why (append-only audit record)."""

    csp = models.ForeignKey(Csp, on_delete=models.PROTECT, related_name="status_changes")
    from_status = models.CharField(max_length=20, choices=CspStatus.choices, blank=True)
    to_status = models.CharField(max_length=20, choices=CspStatus.choices)
    reason = models.TextField(blank=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # Who acted when no staff user did: "registration form", "create_csp command".
    actor = models.CharField(max_length=100, blank=True)
    changed_at = models.DateTimeField()

    class Meta:
        ordering = ["-changed_at", "-id"]
        verbose_name = "CSP status change"
        indexes = [models.Index(fields=["csp", "changed_at"], name="csp_status_change_idx")]

    def __str__(self):
        return f"{self.csp_id}: {self.from_status or '—'} → {self.to_status}"


class ApiKey(models.Model):
    """A CSP's API key. Only the SHA-256 of the key is stored; see ``keys.py``."""

    csp = models.ForeignKey(Csp, on_delete=models.PROTECT, related_name="api_keys")
    name = models.CharField(max_length=100, blank=True, help_text="A label for people.")
    # The visible part of the key, unique so a lookup finds one row by index.
    prefix = models.CharField(max_length=8, unique=True)
    hashed_key = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"
        permissions = [
            ("issue_apikey", "Can issue API keys (each shown once)"),
            ("revoke_apikey", "Can revoke API keys"),
        ]

    def __str__(self):
        # The prefix is not secret (it is what people use to recognise a key).
        return f"smt_{self.prefix}… ({self.name or 'unnamed'})"

    def usable_at(self, now):
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or now < self.expires_at


class ApiRequestLog(models.Model):
    """One row per request to /api/, for monitoring (R17, R18, red flag c)."""

    csp = models.ForeignKey(Csp, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    # The prefix the caller presented, even when the key was not valid.
    key_prefix = models.CharField(max_length=8, blank=True)
    ip = models.GenericIPAddressField()
    # X-Forwarded-For carried entries no trusted proxy added: a client tried
    # to choose its own address (input for the IP-falsification detector).
    forwarded_header_untrusted = models.BooleanField(default=False)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=300)
    status_code = models.PositiveSmallIntegerField()
    error_code = models.CharField(max_length=50, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField()

    class Meta:
        verbose_name = "API request"
        indexes = [
            models.Index(fields=["csp", "created_at"], name="api_log_csp_time_idx"),
            models.Index(fields=["ip", "created_at"], name="api_log_ip_time_idx"),
            models.Index(fields=["created_at"], name="api_log_time_idx"),
        ]

    def __str__(self):
        return f"{self.method} {self.path} {self.status_code}"


class IdempotencyKey(models.Model):
    """The first response to a POST with an ``Idempotency-Key``, replayed to retries."""

    csp = models.ForeignKey(Csp, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    # SHA-256 of method, path and canonical JSON body: same key, other body → 422.
    request_hash = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField(null=True)
    # The rendered JSON text, not a JSONField: PostgreSQL's jsonb reorders
    # keys, and a replay should repeat the first answer exactly.
    response_body = models.TextField(blank=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["csp", "key"], name="idempotency_key_unique_per_csp")
        ]
        indexes = [models.Index(fields=["expires_at"], name="idempotency_expires_idx")]

    def __str__(self):
        return f"{self.csp_id}: {self.key}"
