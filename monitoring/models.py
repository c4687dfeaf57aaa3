"""What the portal watches and what staff decide about it.

- ``PremiseAuthenticationAttempt``: every premise authentication attempt (R3, R18);
- ``DetectorSetting`` / ``MonitoringSettings``: thresholds and windows staff edit;
- ``RedFlag`` (R19) with its evidence, and ``FlagAction``: who decided what and why;
- ``CustomerReport``: reports from the public ``/report/`` page (R17);
- ``CommissionDirective``: directives relayed by a TDU (R22).
"""

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q
from django.utils.timezone import localtime

from premises.models import AuthenticationFailure


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
        return f"{self.esi_id} {outcome} at {localtime(self.created_at):%Y-%m-%d %H:%M:%S %Z}"


# --- Detector settings -------------------------------------------------------------


class RedFlagKind(models.TextChoices):
    """The red flags of R19, plus the statistics that are not themselves a flag."""

    AFFIRMATION = "a", "(a) Interfering with or falsifying an affirmation"
    UNAUTHORISED_DATA = "b", "(b) Receiving data the customer did not authorise"
    IP_FALSIFICATION = "c", "(c) Falsifying IP addresses"
    AFTER_TERMINATION = "d", "(d) Not stopping data access after termination"
    SHARING = "e", "(e) Sharing, selling or distributing data"
    ALTERING = "f", "(f) Modifying or altering data"
    REJECTIONS = "rejections", "Rejections (R16)"
    AUTHENTICATION = "authentication", "Authentication attempts (R18)"
    REPORT = "report", "Customer report (other)"


class Severity(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"


class DetectorSetting(models.Model):
    """A detector's switch, time window and thresholds, edited by staff.

    One row per detector in ``monitoring.detectors.DETECTORS`` (seeded with
    defaults). ``thresholds`` holds exactly the detector's named numbers;
    ``clean`` refuses unknown names and non-numbers.
    """

    name = models.CharField(max_length=50, unique=True)
    enabled = models.BooleanField(default=True)
    window = models.DurationField(
        help_text="Length of the time window the detector counts over (e.g. 1:00:00 = 1 hour). "
        "Windows are aligned to fixed boundaries, so re-runs in one window update one flag."
    )
    thresholds = models.JSONField(default=dict)
    updated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "detector setting"

    def __str__(self):
        return self.name

    def clean(self):
        from django.core.exceptions import ValidationError

        from monitoring.detectors import DETECTORS

        detector = DETECTORS.get(self.name)
        if detector is None:
            raise ValidationError({"name": "No detector has this name."})
        errors = detector.threshold_errors(self.thresholds)
        if errors:
            raise ValidationError({"thresholds": errors})
        if self.window is not None and self.window.total_seconds() < 60:
            raise ValidationError({"window": "A window is at least one minute."})


class MonitoringSettings(models.Model):
    """Monitoring settings that are not a detector's (one row, ``pk=1``)."""

    spam_cooldown_days = models.PositiveIntegerField(
        default=90,
        help_text="After a customer reports a CSP's request as spam, that CSP cannot ask "
        "for the same ESI ID again for this many days (409 cooldown_active).",
    )

    class Meta:
        verbose_name = "monitoring settings"
        verbose_name_plural = "monitoring settings"

    def __str__(self):
        return "Monitoring settings"

    @classmethod
    def current(cls):
        settings_row, _ = cls.objects.get_or_create(pk=1)
        return settings_row


class DetectorRun(models.Model):
    """The last run of each detector (one row per detector, overwritten by each run).

    The sweep runs every detector on its own: one that raises is rolled back,
    logged and recorded here (``ok`` false, the error), and the others still
    run. The dashboard shows these rows and ``/healthz`` names the detectors
    whose last run failed, so a detector that stopped working is seen, not
    silent. ``last_ok_at`` tells how long a failing one has been blind.
    """

    detector = models.CharField(max_length=50, unique=True)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    ok = models.BooleanField()
    error_class = models.CharField(max_length=200, blank=True)
    error_message = models.TextField(blank=True)
    findings = models.PositiveIntegerField(default=0)
    flags_opened = models.PositiveIntegerField(default=0)
    last_ok_at = models.DateTimeField(null=True, blank=True)
    failures_in_a_row = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["detector"]
        verbose_name = "detector run"

    def __str__(self):
        outcome = "ok" if self.ok else f"failed ({self.error_class})"
        return f"{self.detector}: {outcome} at {localtime(self.finished_at):%Y-%m-%d %H:%M:%S %Z}"


# --- Customer reports ---------------------------------------------------------------


class ReportCategory(models.TextChoices):
    SELLING_SHARING = "selling_sharing", "Selling or sharing my data"
    ALTERING = "altering", "Altering my data"
    UNWANTED_CONTACT = "unwanted_contact", "Unwanted contact"
    OTHER = "other", "Something else"


class ReportOutcome(models.TextChoices):
    PENDING = "pending", "Awaiting review"
    UPHELD = "upheld", "Upheld"
    NOT_UPHELD = "not_upheld", "Not upheld"


class CustomerReport(models.Model):
    """A report about a CSP from the public ``/report/`` page (R17, flags e and f)."""

    csp = models.ForeignKey("csp_registry.Csp", on_delete=models.PROTECT, related_name="+")
    category = models.CharField(max_length=20, choices=ReportCategory.choices)
    description = models.TextField()
    contact_email = models.EmailField(blank=True)
    esi_id = models.CharField("ESI ID", max_length=22, blank=True)
    language = models.CharField(max_length=2, default="en")
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField()
    # Set when staff close the report's flag: upheld reports count on /providers/.
    outcome = models.CharField(
        max_length=12, choices=ReportOutcome.choices, default=ReportOutcome.PENDING
    )

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["csp", "outcome"], name="report_csp_outcome_idx"),
            models.Index(fields=["created_at"], name="report_time_idx"),
        ]

    def __str__(self):
        return f"Report {self.pk} about CSP {self.csp_id} ({self.category})"


# --- Red flags ----------------------------------------------------------------------


class FlagStatus(models.TextChoices):
    OPEN = "open", "Open"
    ESCALATED = "escalated", "Escalated"
    UPHELD = "upheld", "Upheld"
    DISMISSED = "dismissed", "Dismissed"
    ACTIONED = "actioned", "CSP suspended or revoked"


# Flags that still need someone's decision.
UNRESOLVED_FLAG_STATUSES = (FlagStatus.OPEN, FlagStatus.ESCALATED)
REPORT_DETECTOR = "customer_report"


class RedFlag(models.Model):
    """A red flag (R19) raised by a detector or a customer report, with its evidence.

    A detector raises at most one flag per CSP and time window, whatever its
    status: re-runs refresh an unresolved flag's figures, and a dismissed one
    stays dismissed (the unique constraint below).
    """

    csp = models.ForeignKey("csp_registry.Csp", on_delete=models.PROTECT, related_name="+")
    detector = models.CharField(max_length=50)
    kind = models.CharField(max_length=20, choices=RedFlagKind.choices)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    status = models.CharField(max_length=12, choices=FlagStatus.choices, default=FlagStatus.OPEN)
    summary = models.CharField(max_length=300)
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    # {"figures": {...}, "thresholds": {...}, "samples": [{...}], "links": {...}}
    evidence = models.JSONField(default=dict, encoder=DjangoJSONEncoder)
    report = models.OneToOneField(
        CustomerReport, null=True, blank=True, on_delete=models.PROTECT, related_name="flag"
    )
    created_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        permissions = [
            ("review_redflag", "Can dismiss, escalate and uphold red flags"),
            ("enforce_redflag", "Can suspend, reinstate and revoke CSPs"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["csp", "detector", "window_start"],
                condition=Q(report__isnull=True),
                name="one_flag_per_csp_detector_window",
            ),
            models.CheckConstraint(
                condition=Q(status__in=FlagStatus.values), name="red_flag_status_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["status", "-created_at"], name="red_flag_status_idx"),
            models.Index(fields=["csp", "status"], name="red_flag_csp_idx"),
        ]

    def __str__(self):
        return f"Flag {self.pk}: {self.summary}"

    @property
    def is_unresolved(self):
        return self.status in UNRESOLVED_FLAG_STATUSES


class Dashboard(RedFlag):
    """The monitoring dashboard's place in the admin (``/admin/monitoring/dashboard/``).

    A proxy so that it gets its own "view" permission for the roles."""

    class Meta:
        proxy = True
        verbose_name = "monitoring dashboard"
        verbose_name_plural = "monitoring dashboard"


class FlagActionKind(models.TextChoices):
    DISMISS = "dismiss", "Dismissed"
    ESCALATE = "escalate", "Escalated"
    UPHOLD = "uphold", "Upheld"
    SUSPEND = "suspend", "CSP suspended"
    REVOKE = "revoke", "CSP revoked"


class FlagAction(models.Model):
    """Who did what to a flag, when and why (append-only)."""

    flag = models.ForeignKey(RedFlag, on_delete=models.PROTECT, related_name="actions")
    action = models.CharField(max_length=12, choices=FlagActionKind.choices)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    reason = models.TextField()
    created_at = models.DateTimeField()
    # Set when the flag was closed by a decision on another flag of its CSP
    # (suspending or revoking the CSP closes every unresolved flag of it).
    decided_with = models.ForeignKey(
        RedFlag,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="decided with flag",
    )

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self):
        return f"{self.get_action_display()} flag {self.flag_id}"


# --- Commission directives (R22) ---------------------------------------------------------


class DirectiveAction(models.TextChoices):
    SUSPEND = "suspend", "Suspend"
    TERMINATE = "terminate", "Terminate (revoke)"


class RelayingTdu(models.TextChoices):
    ONCOR = "oncor", "Oncor"
    CENTERPOINT = "centerpoint", "CenterPoint Energy Houston Electric"
    AEP_TEXAS = "aep_texas", "AEP Texas"
    TNMP = "tnmp", "TNMP"


class CommissionDirective(models.Model):
    """A Commission directive to suspend or terminate a CSP, relayed by a TDU (R22).

    Carried out only once the notice and the procedure are recorded; then it
    uses the same enforcement services as the committee."""

    csp = models.ForeignKey("csp_registry.Csp", on_delete=models.PROTECT, related_name="+")
    reference = models.CharField("docket or reference", max_length=100)
    action = models.CharField(max_length=12, choices=DirectiveAction.choices)
    relaying_tdu = models.CharField("relaying TDU", max_length=12, choices=RelayingTdu.choices)
    received_on = models.DateField("date received")
    notice_given_on = models.DateField("date notice was given", null=True, blank=True)
    procedure_concluded_on = models.DateField("date the procedure concluded", null=True, blank=True)
    notes = models.TextField(blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    carried_out_at = models.DateTimeField(null=True, blank=True)
    carried_out_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    outcome = models.TextField(blank=True)

    class Meta:
        ordering = ["-received_on", "-id"]
        permissions = [("carry_out_commissiondirective", "Can carry out Commission directives")]

    def __str__(self):
        return f"{self.reference}: {self.get_action_display()} {self.csp}"

    @property
    def ready_to_carry_out(self):
        return (
            self.carried_out_at is None
            and self.notice_given_on is not None
            and self.procedure_concluded_on is not None
        )
