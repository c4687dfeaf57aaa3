"""Competitive Service Providers: who they are, how to reach them, their status."""

import ipaddress

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
