"""The CSP web portal's people: users of a CSP with a role, their invitations,
and a record of every sign-in and every change they make (R1, R2)."""

from django.conf import settings
from django.db import models
from django.db.models import Q


class CspRole(models.TextChoices):
    ADMIN = "admin", "Admin (users, keys, webhooks)"
    AGENT = "agent", "Agent (requests)"
    VIEWER = "viewer", "Viewer (read-only)"


class CspMember(models.Model):
    """A person who signs in to /csp/ for one CSP, with one role."""

    csp = models.ForeignKey("csp_registry.Csp", on_delete=models.PROTECT, related_name="members")
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="csp_membership"
    )
    role = models.CharField(max_length=8, choices=CspRole.choices)
    created_at = models.DateTimeField()
    removed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(role__in=CspRole.values), name="csp_member_role"),
        ]
        indexes = [models.Index(fields=["csp", "removed_at"], name="csp_member_csp_idx")]

    def __str__(self):
        return f"{self.user_id} @ {self.csp_id} ({self.role})"


class CspInvitation(models.Model):
    """An emailed, sealed, expiring invitation to become a CSP's user with a role."""

    csp = models.ForeignKey("csp_registry.Csp", on_delete=models.PROTECT, related_name="+")
    email = models.EmailField()
    role = models.CharField(max_length=8, choices=CspRole.choices)
    # SHA-256 of the token; the token itself is only in the email (sealed in the outbox).
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
        related_name="+",
    )  # fmt: skip

    def __str__(self):
        return f"{self.email} → {self.csp_id} ({self.role})"


class CspPortalEvent(models.Model):
    """Every sign-in and every change made in the portal, kept after the user goes."""

    csp = models.ForeignKey("csp_registry.Csp", on_delete=models.PROTECT, related_name="+")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
        related_name="+",
    )  # fmt: skip
    kind = models.CharField(max_length=40)
    at = models.DateTimeField()
    ip = models.GenericIPAddressField(null=True, blank=True)
    # What changed (ids, masked addresses, key prefixes); never a secret.
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [models.Index(fields=["csp", "-at"], name="csp_portal_event_idx")]

    def __str__(self):
        return f"{self.kind} @ {self.csp_id}"
