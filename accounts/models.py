"""Optional customer accounts (R5, R14): the premises a customer proved are
theirs, and what happened to the account.

Accounts are Django users signed in through django-allauth with a proven email
address; nothing in the emailed-link flow needs one.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q


class PremiseLink(models.Model):
    """A premise an account holder proved with its three facts (the same check as
    the API). One open link per premise: its current occupant's. A move-in
    (``Premise.occupant_since`` after ``linked_at``) closes it."""

    # NULL once the account is deleted: the link (closed then) stays as history.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
        related_name="premise_links",
    )  # fmt: skip
    premise = models.ForeignKey("premises.Premise", on_delete=models.PROTECT, related_name="+")
    linked_at = models.DateTimeField()
    unlinked_at = models.DateTimeField(null=True, blank=True)
    # "occupant_changed", "removed" (by the customer), "account_deleted".
    unlink_reason = models.CharField(max_length=32, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["premise"],
                condition=Q(unlinked_at__isnull=True),
                name="one_open_link_per_premise",
            )
        ]
        indexes = [models.Index(fields=["user", "unlinked_at"], name="premise_link_user_idx")]

    def __str__(self):
        return f"{self.user_id} → {self.premise_id}"


class AccountEventKind(models.TextChoices):
    SIGNED_UP = "signed_up", "Signed up"
    SIGNED_OUT = "signed_out", "Signed out"
    PASSWORD_RESET = "password_reset", "Password reset"
    EMAIL_CHANGED = "email_changed", "Email address changed"
    PREMISE_LINKED = "premise_linked", "Premise added"
    PREMISE_UNLINKED = "premise_unlinked", "Premise removed"
    DELETED = "deleted", "Account deleted"


class AccountEvent(models.Model):
    """What happened to an account, kept after the account is deleted (the user
    link becomes NULL; the record of decisions is in ``affirmations.Record``)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
        related_name="+",
    )  # fmt: skip
    # Which account it was, once the user row is gone: its id, never the address.
    account_ref = models.BigIntegerField()
    kind = models.CharField(max_length=24, choices=AccountEventKind.choices)
    at = models.DateTimeField()
    ip = models.GenericIPAddressField(null=True, blank=True)
    # Masked addresses and premise ids; never a full email address or a secret.
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [models.Index(fields=["account_ref", "at"], name="account_event_ref_idx")]

    def __str__(self):
        return f"{self.kind} ({self.account_ref})"
