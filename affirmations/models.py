"""Agreements between a customer and a CSP, the links that carry them, and
the record of everything that happened to them.

Every timestamp is written when its event happens (``affirmation_expires_at``
when the email is queued, ``term_end`` at opt-in) so a later change of a
setting never changes a link already sent or an agreement already made.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.timezone import localtime

from smt_portal.actors import ActorType


class AgreementStatus(models.TextChoices):
    PENDING_AFFIRMATION = "pending_affirmation", "Pending affirmation"
    ACTIVE = "active", "Active"
    OPTED_OUT = "opted_out", "Opted out"
    REPORTED_SPAM = "reported_spam", "Reported as spam"
    TIMED_OUT = "timed_out", "Timed out"
    TERMINATED = "terminated", "Terminated"
    REVOKED = "revoked", "Revoked"
    TERM_ENDED = "term_ended", "Term ended"


# Only these statuses can still change; all others are final (glossary).
OPEN_STATUSES = (AgreementStatus.PENDING_AFFIRMATION, AgreementStatus.ACTIVE)


class Language(models.TextChoices):
    ENGLISH = "en", "English"
    SPANISH = "es", "Español"


class EndedBy(models.TextChoices):
    CUSTOMER = "customer", "Customer"
    CSP = "csp", "CSP"
    COMMITTEE = "committee", "Management committee"
    COMMISSION = "commission", "Commission"
    SYSTEM = "system", "System"


class Agreement(models.Model):
    """One customer's consent request (then agreement) with one CSP, covering
    one or more of that customer's premises, decided with one decision."""

    csp = models.ForeignKey("csp_registry.Csp", on_delete=models.PROTECT, related_name="agreements")
    status = models.CharField(
        max_length=24, choices=AgreementStatus.choices, default=AgreementStatus.PENDING_AFFIRMATION
    )
    customer_email = models.EmailField()
    language = models.CharField(max_length=2, choices=Language.choices, default=Language.ENGLISH)
    term_months = models.PositiveSmallIntegerField()
    # The limit in force when the request was made (R11), kept for the record.
    max_term_months = models.PositiveSmallIntegerField()
    # The renewal window in force when the request was made (R12): a renewal
    # may be asked for only in the last this many days of the current term.
    renewal_window_days = models.PositiveSmallIntegerField(default=60)
    # Short code repeated in the email so a customer can tell a real request
    # from a phishing copy. Not a secret.
    confirmation_code = models.CharField(max_length=12)
    # Made with a sandbox key (glossary "Sandbox"): seen only by sandbox keys,
    # its customer's answer scripted, never counted by monitoring.
    sandbox = models.BooleanField(default=False, db_default=False)

    created_at = models.DateTimeField()
    affirmation_sent_at = models.DateTimeField(null=True, blank=True)
    affirmation_expires_at = models.DateTimeField()
    reminder_sent_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    affirmed_at = models.DateTimeField(null=True, blank=True)
    disclosure = models.ForeignKey(
        "affirmations.Disclosure", null=True, blank=True, on_delete=models.PROTECT
    )
    term_start = models.DateTimeField(null=True, blank=True)
    term_end = models.DateTimeField(null=True, blank=True)
    renewal_count = models.PositiveSmallIntegerField(default=0)
    # The data window (glossary): the history the customer agreed to share, in
    # months before the affirmation (the policy's then) and its first local day.
    history_months = models.PositiveSmallIntegerField(null=True, blank=True)
    data_from = models.DateField(null=True, blank=True)
    # Reminders (glossary): when the next "you are still sharing" email is due
    # (written when the term starts, moved on by each reminder), and when the
    # one notice before the term ends went out (cleared by a renewal).
    next_sharing_reminder_at = models.DateTimeField(null=True, blank=True, db_index=True)
    term_end_notice_sent_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_by = models.CharField(max_length=12, choices=EndedBy.choices, blank=True)
    end_reason = models.TextField(blank=True)

    class Meta:
        permissions = [("revoke_agreement", "Can revoke a single agreement")]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=AgreementStatus.values), name="agreement_status_valid"
            ),
            models.CheckConstraint(condition=Q(term_months__gte=1), name="agreement_term_positive"),
            models.CheckConstraint(
                condition=Q(term_months__lte=models.F("max_term_months")),
                name="agreement_term_within_limit",
            ),
            models.CheckConstraint(
                condition=~Q(status=AgreementStatus.ACTIVE)
                | (Q(term_start__isnull=False) & Q(term_end__isnull=False)),
                name="active_agreement_has_term",
            ),
        ]
        indexes = [
            models.Index(fields=["csp", "status", "-created_at"], name="agreement_csp_status_idx"),
            models.Index(fields=["csp", "-created_at"], name="agreement_csp_created_idx"),
            # The sweeps select by due date among open agreements only.
            models.Index(
                fields=["affirmation_expires_at"],
                condition=Q(status="pending_affirmation"),
                name="agreement_pending_due_idx",
            ),
            models.Index(
                fields=["term_end"], condition=Q(status="active"), name="agreement_active_due_idx"
            ),
        ]

    def __str__(self):
        return f"Agreement {self.pk} ({self.status})"

    @property
    def is_open(self):
        return self.status in OPEN_STATUSES


class AgreementPremise(models.Model):
    """A premise covered by an agreement, with its classification at request time.

    ``csp`` and ``is_open`` repeat the agreement's so that the database itself
    keeps one open agreement per CSP and ESI ID; services change them in the
    same transaction as the agreement's status.
    """

    agreement = models.ForeignKey(Agreement, on_delete=models.CASCADE, related_name="premises")
    premise = models.ForeignKey("premises.Premise", on_delete=models.PROTECT, related_name="+")
    csp = models.ForeignKey("csp_registry.Csp", on_delete=models.PROTECT, related_name="+")
    esi_id = models.CharField("ESI ID", max_length=22)
    service_address = models.CharField(max_length=300)
    large_commercial = models.BooleanField()
    is_open = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["agreement", "premise"], name="agreement_premise_once"),
            models.UniqueConstraint(
                fields=["csp", "premise"],
                condition=Q(is_open=True),
                name="one_open_agreement_per_csp_and_premise",
            ),
        ]
        indexes = [models.Index(fields=["esi_id"], name="agreement_premise_esi_idx")]

    def __str__(self):
        return self.esi_id


class LinkPurpose(models.TextChoices):
    AFFIRMATION = "affirmation", "Affirmation"
    RENEWAL = "renewal", "Renewal"
    # Sent with the opt-in and renewal receipts: the customer has no account,
    # so this link is how they end the sharing (valid until the term ends).
    TERMINATION = "termination", "Termination"


class AgreementLink(models.Model):
    """An emailed link. Only the SHA-256 of its token is stored; a reminder
    issues a second link with the same deadline."""

    agreement = models.ForeignKey(Agreement, on_delete=models.CASCADE, related_name="links")
    renewal = models.ForeignKey(
        "affirmations.Renewal",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="links",
    )
    purpose = models.CharField(max_length=12, choices=LinkPurpose.choices)
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()

    def __str__(self):
        return f"{self.purpose} link for agreement {self.agreement_id}"


class RenewalStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RENEWED = "renewed", "Renewed"
    DECLINED = "declined", "Declined"
    TIMED_OUT = "timed_out", "Timed out"
    CANCELLED = "cancelled", "Cancelled (agreement ended)"


class RenewalKind(models.TextChoices):
    # R12: large commercial renews with one click; others through the full
    # affirmation (disclosures and bot challenge).
    ONE_CLICK = "one_click", "One click (large commercial)"
    FULL_AFFIRMATION = "full_affirmation", "Full affirmation"


class Renewal(models.Model):
    agreement = models.ForeignKey(Agreement, on_delete=models.CASCADE, related_name="renewals")
    kind = models.CharField(max_length=20, choices=RenewalKind.choices)
    status = models.CharField(
        max_length=12, choices=RenewalStatus.choices, default=RenewalStatus.PENDING
    )
    customer_email = models.EmailField()
    term_months = models.PositiveSmallIntegerField()
    requested_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    decided_at = models.DateTimeField(null=True, blank=True)
    disclosure = models.ForeignKey(
        "affirmations.Disclosure", null=True, blank=True, on_delete=models.PROTECT
    )
    new_term_end = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["agreement"],
                condition=Q(status="pending"),
                name="one_open_renewal_per_agreement",
            ),
        ]
        indexes = [
            models.Index(
                fields=["expires_at"], condition=Q(status="pending"), name="renewal_pending_due_idx"
            ),
        ]

    def __str__(self):
        return f"Renewal {self.pk} of agreement {self.agreement_id} ({self.status})"


class Disclosure(models.Model):
    """The disclosures a customer acknowledges. Staff publish new versions;
    a version is never edited once a customer may have seen it."""

    version = models.PositiveIntegerField(unique=True)
    text_en = models.TextField("text (English)")
    text_es = models.TextField("text (Spanish)")
    published_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-version"]

    def __str__(self):
        return f"Disclosures v{self.version}"

    def text_for(self, language):
        return self.text_es if language == Language.SPANISH else self.text_en


class RecordEvent(models.TextChoices):
    REQUEST_CREATED = "request_created", "Request created"
    EMAIL_QUEUED = "email_queued", "Email queued"
    REMINDER_SENT = "reminder_sent", "Reminder sent"
    OPTED_IN = "opted_in", "Opted in"
    OPTED_OUT = "opted_out", "Opted out"
    REPORTED_SPAM = "reported_spam", "Reported as spam"
    TIMED_OUT = "timed_out", "Timed out"
    TERMINATED = "terminated", "Terminated"
    REVOKED = "revoked", "Revoked"
    TERM_ENDED = "term_ended", "Term ended"
    RENEWAL_REQUESTED = "renewal_requested", "Renewal requested"
    RENEWED = "renewed", "Renewed"
    RENEWAL_TIMED_OUT = "renewal_timed_out", "Renewal timed out"
    RENEWAL_DECLINED = "renewal_declined", "Renewal declined"
    SHARING_REMINDED = "sharing_reminded", "Reminded of the sharing"
    STATUS_CHANGED = "status_changed", "Status changed"
    CSP_STATUS_CHANGED = "csp_status_changed", "CSP status changed"
    DISCLOSURE_PUBLISHED = "disclosure_published", "Disclosure published"
    OTHER = "other", "Other"


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise PermissionError("records are append-only")

    def delete(self):
        raise PermissionError("records are append-only")


class Record(models.Model):
    """The append-only record (R13). Each row holds the hash of the one before
    it, so an edit or deletion behind the application's back breaks the chain
    (``manage.py verify_records``); on PostgreSQL a trigger refuses UPDATE and
    DELETE outright. Write rows only through ``affirmations.records``."""

    created_at = models.DateTimeField()
    event = models.CharField(max_length=24, choices=RecordEvent.choices)
    # No index of their own: record_agreement_idx and record_csp_idx lead with
    # them, and every index costs each of a sweep's million appends.
    agreement = models.ForeignKey(
        Agreement,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="records",
        db_index=False,
    )
    csp = models.ForeignKey(
        "csp_registry.Csp",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="records",
        db_index=False,
    )
    actor_type = models.CharField(max_length=12, choices=ActorType.choices)
    # Who, in words a regulator can read: a key prefix, a staff username, …
    actor = models.CharField(max_length=200, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=500, blank=True)
    details = models.JSONField(default=dict, blank=True)
    previous_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)
    # Which of the independent chains holds the row (``records.record_chain_of``:
    # a stable function of the CSP, so an agreement's rows share one chain) and
    # its place in that chain, 1, 2, … without gaps.
    chain = models.SmallIntegerField(default=0)
    seq = models.BigIntegerField()
    # 1: rows written before the chains were sharded (chain and seq not hashed);
    # 2: chain and seq are part of the hash, so a row moved between chains shows.
    hash_version = models.SmallIntegerField(default=2)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        permissions = [("export_record", "Can export the record (CSV, JSON)")]
        indexes = [
            models.Index(fields=["agreement", "id"], name="record_agreement_idx"),
            models.Index(fields=["csp", "id"], name="record_csp_idx"),
            models.Index(fields=["event", "created_at"], name="record_event_time_idx"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["chain", "seq"], name="record_chain_seq_unique"),
        ]

    def __str__(self):
        return f"#{self.pk} {self.event} at {localtime(self.created_at):%Y-%m-%d %H:%M:%S %Z}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise PermissionError("records are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("records are append-only")


class RecordChainHead(models.Model):
    """One row per chain holding its newest record's hash and seq. A writer
    locks only the heads of the chains it appends to, so each chain stays a
    single line while writers of different chains never wait for each other."""

    chain = models.SmallIntegerField(unique=True)
    last_seq = models.BigIntegerField(default=0)
    last_hash = models.CharField(max_length=64)

    def __str__(self):
        return f"chain {self.chain} head at seq {self.last_seq}"


class RecordCheckpoint(models.Model):
    """A signed statement of every chain's head at one time (``checkpoints``).

    The copy that counts is outside the database: the line appended to
    ``RECORD_CHECKPOINT_FILE`` and the email to the committee, which the
    database login cannot rewrite. This row is for listing and for filing a
    line a dead worker did not get to write."""

    sealed_at = models.DateTimeField()
    # {"<chain>": [last_seq, last_hash], …}: chains with at least one row.
    heads = models.JSONField()
    # SHA-256 of ``heads``: the same heads are never sealed twice.
    digest = models.CharField(max_length=64, unique=True)
    line = models.TextField(blank=True)
    filed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        default_permissions = ("view",)
        permissions = [("seal_recordcheckpoint", "Can seal a record checkpoint now")]

    def __str__(self):
        return f"checkpoint #{self.pk} sealed {localtime(self.sealed_at):%Y-%m-%d %H:%M:%S %Z}"


class Holiday(models.Model):
    """A day the five-weekday rule does not count (glossary, "Five weekdays").

    Staff add and remove holidays in the admin; every deadline computed after
    a change uses it (``affirmations.holidays``), none computed before changes.
    Who added a day is kept here; each addition and removal is also written to
    the record (``RecordEvent.OTHER``, ``details.change``), which outlives the row.
    """

    day = models.DateField(unique=True, help_text="The Central calendar day not counted.")
    name = models.CharField(max_length=100, help_text="For example: Thanksgiving Day.")
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )

    class Meta:
        ordering = ["day"]
        verbose_name = "holiday"
        # Added and removed only through ``affirmations.holidays`` (recorded),
        # never edited: one declared permission for both.
        default_permissions = ("view",)
        permissions = [("manage_holiday", "Can add and remove holidays")]

    def __str__(self):
        return f"{self.name} ({self.day:%Y-%m-%d})"
