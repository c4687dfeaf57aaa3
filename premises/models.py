"""What the portal knows about premises: TDUs, REPs, ESI IDs, meters, usage.

Rows arrive as TDU feeds (``import_premises``, ``import_usage``); the
constraints below hold whatever path a row takes into the database.
"""

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q


class Tdu(models.Model):
    """A transmission and distribution utility of the competitive market."""

    code = models.CharField(max_length=20, unique=True)
    name = models.CharField(max_length=200)
    puct_id = models.CharField("PUCT identifier", max_length=10, unique=True)
    # ESI IDs this TDU serves begin with one of these (space-separated).
    esi_id_prefixes = models.CharField(max_length=200)
    esi_id_length = models.PositiveSmallIntegerField()
    approx_meters = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["name"]
        verbose_name = "TDU"

    def __str__(self):
        return self.name

    @property
    def prefixes(self):
        return self.esi_id_prefixes.split()


class RetailElectricProvider(models.Model):
    """A REP and its PUCT certificate number (a string: ``10166X`` exists)."""

    certificate_number = models.CharField(max_length=10, unique=True)
    legal_name = models.CharField(max_length=200)
    dba_names = models.CharField("DBA names", max_length=500, blank=True)
    city = models.CharField(max_length=100, blank=True)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["legal_name"]
        verbose_name = "retail electric provider"

    def __str__(self):
        return f"{self.legal_name} ({self.certificate_number})"


class CustomerClass(models.TextChoices):
    RESIDENTIAL = "residential", "Residential"
    COMMERCIAL = "commercial", "Commercial"


class Premise(models.Model):
    """A point of delivery, identified by its ESI ID."""

    esi_id = models.CharField("ESI ID", max_length=22, unique=True)
    tdu = models.ForeignKey(Tdu, on_delete=models.PROTECT, related_name="premises")
    rep_of_record = models.ForeignKey(
        RetailElectricProvider, on_delete=models.PROTECT, related_name="premises"
    )
    customer_class = models.CharField(max_length=12, choices=CustomerClass.choices)
    service_address = models.CharField(max_length=300)
    # One of the published sandbox premises (smt_portal/sandbox.py): only sandbox
    # keys authenticate it; live requests never find it.
    sandbox = models.BooleanField(default=False, db_default=False)
    # The current customer's move-in date (the TDU's feed): an agreement made
    # before it was made by someone who no longer lives here (glossary, B13).
    occupant_since = models.DateField(null=True, blank=True)
    # The highest monthly kWh of the 12 billing months before
    # ``usage_peak_window_end`` (NULL when none has usage), computed by
    # ``premises.services.premises_usage_peaks_refresh`` after every usage
    # import so that premise authentication reads no usage rows. Any write to
    # this premise's MonthlyUsage clears ``usage_peak_window_end`` (database
    # triggers, migration 0012), and the classification reads the usage itself
    # whenever the stored window is not the one of its ``now``: never stale.
    usage_peak_kwh = models.DecimalField(
        max_digits=12, decimal_places=3, null=True, blank=True, editable=False
    )
    usage_peak_window_end = models.DateField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(customer_class__in=CustomerClass.values),
                name="premise_customer_class_valid",
            ),
        ]

    def __str__(self):
        return self.esi_id


class Meter(models.Model):
    """An advanced meter at a premise; a meter exchange sets ``removed_on``."""

    number = models.CharField(max_length=32)
    premise = models.ForeignKey(Premise, on_delete=models.CASCADE, related_name="meters")
    installed_on = models.DateField()
    removed_on = models.DateField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["premise"],
                condition=Q(removed_on__isnull=True),
                name="one_active_meter_per_premise",
            ),
            models.CheckConstraint(
                condition=Q(removed_on__isnull=True) | Q(removed_on__gte=models.F("installed_on")),
                name="meter_removed_after_installed",
            ),
        ]
        indexes = [models.Index(fields=["number"], name="meter_number_idx")]

    def __str__(self):
        return self.number

    @property
    def active(self):
        return self.removed_on is None


class MonthlyUsage(models.Model):
    """Consumption of one premise in one billing month (``month`` is its 1st day)."""

    # The unique (premise, month) constraint already indexes premise first.
    premise = models.ForeignKey(
        Premise, on_delete=models.CASCADE, related_name="monthly_usage", db_index=False
    )
    month = models.DateField()
    kwh = models.DecimalField(max_digits=12, decimal_places=3)

    class Meta:
        ordering = ["premise", "month"]
        verbose_name_plural = "monthly usage"
        constraints = [
            models.UniqueConstraint(fields=["premise", "month"], name="one_usage_row_per_month"),
            models.CheckConstraint(condition=Q(kwh__gte=0), name="usage_kwh_not_negative"),
            models.CheckConstraint(condition=Q(month__day=1), name="usage_month_is_first_day"),
        ]

    def __str__(self):
        return f"{self.premise_id} {self.month:%Y-%m}: {self.kwh} kWh"


class TermPolicy(models.Model):
    """The term limits of R11, a setting staff change in the admin without code.

    One row. Agreements store the classification and limit they were made
    under, so a change here never alters an agreement already made.
    """

    standard_max_months = models.PositiveSmallIntegerField(
        default=12,
        help_text="Longest term for residential and other non-large-commercial customers.",
    )
    large_commercial_max_months = models.PositiveSmallIntegerField(
        default=36, help_text="Longest term for a large commercial customer."
    )
    large_commercial_threshold_kwh = models.DecimalField(
        max_digits=12,
        decimal_places=3,
        default=15000,
        help_text="A commercial premise is large when some month of the prior 12 reached this.",
    )
    # Reminders (glossary): "you are still sharing with X", every so many days of
    # an active term, and once this many days before the term ends.
    sharing_reminder_days = models.PositiveSmallIntegerField(
        default=90,
        validators=[MinValueValidator(1)],
        help_text="Days between reminders that an active agreement still shares data.",
    )
    term_end_notice_days = models.PositiveSmallIntegerField(
        default=30,
        validators=[MinValueValidator(1)],
        help_text="The customer is told this many days before the term ends.",
    )
    renewal_window_days = models.PositiveSmallIntegerField(
        default=60,
        validators=[MinValueValidator(1)],
        help_text="A CSP may ask to renew only in the last this many days of the current term "
        "(R12). Each agreement keeps the value in force when it was requested.",
    )
    # The data window (glossary): how many months before the affirmation a customer
    # shares; stored with each agreement when the customer agrees.
    history_window_months = models.PositiveSmallIntegerField(
        default=12,
        validators=[MinValueValidator(1), MaxValueValidator(24)],
        help_text="Months of history before the affirmation a CSP may read (1 to 24).",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "term policy"
        verbose_name_plural = "term policy"
        constraints = [
            models.CheckConstraint(
                condition=Q(standard_max_months__gte=1)
                & Q(large_commercial_max_months__gte=models.F("standard_max_months")),
                name="term_policy_limits_ordered",
            ),
            models.CheckConstraint(
                condition=Q(history_window_months__gte=1) & Q(history_window_months__lte=24),
                name="term_policy_history_window_bounded",
            ),
        ]

    def __str__(self):
        return (
            f"{self.standard_max_months} months (large commercial "
            f"{self.large_commercial_max_months} at {self.large_commercial_threshold_kwh} kWh)"
        )

    @classmethod
    def current(cls):
        policy, _ = cls.objects.get_or_create(pk=1)
        return policy


class AuthenticationFailure(models.TextChoices):
    """Which fact was wrong. Staff-only: a CSP is never told (R3)."""

    UNKNOWN_ESI_ID = "unknown_esi_id", "Unknown ESI ID"
    METER_MISMATCH = "meter_mismatch", "Meter number is not the active meter"
    REP_MISMATCH = "rep_mismatch", "Certificate number is not the REP of record"


class IntervalDay(models.Model):
    """One premise's 15-minute readings for one local (America/Chicago) day.

    A row per premise and day, not per reading: ``wh`` holds the day's 92, 96
    or 100 readings in elapsed-time order, encoded by ``premises.intervals.pack_wh``
    (a width byte, then little-endian int16 watt-hours, int32 when a value needs
    it), ``estimated`` a bitmask of the estimated ones (empty when none),
    ``surplus_wh`` surplus generation kept apart (NULL when none). The whole day
    is replaced by a later revision (``revision_at``); on a tie the later import
    wins. Every write is recorded, per premise, in ``IntervalWrite``.

    On PostgreSQL the table is partitioned by RANGE of ``day``, one partition
    per month (``premises_intervalday_yYYYYmMM``), created by the writer
    (``premises.interval_feed.interval_days_upsert``) before it writes; an old
    month is dropped or archived with ``ALTER TABLE … DETACH PARTITION``.
    """

    # The primary key (premise, day) indexes premise first: a premise's year is a range read.
    pk = models.CompositePrimaryKey("premise", "day")
    premise = models.ForeignKey(
        Premise, on_delete=models.CASCADE, related_name="interval_days", db_index=False
    )
    # On PostgreSQL the columns are stored in the order of the migration that
    # creates the table (fixed width first, 8-byte aligned: no padding).
    day = models.DateField()
    wh = models.BinaryField()
    estimated = models.BinaryField()
    surplus_wh = models.BinaryField(null=True, blank=True)
    revision_at = models.DateTimeField()
    imported_at = models.DateTimeField()

    def __str__(self):
        return f"{self.premise_id} {self.day}"

    @property
    def kwh(self):
        from premises.intervals import unpack_wh, wh_to_kwh

        return wh_to_kwh(unpack_wh(self.wh))

    @property
    def surplus_kwh(self):
        from premises.intervals import unpack_wh, wh_to_kwh

        return wh_to_kwh(unpack_wh(self.surplus_wh)) if self.surplus_wh else []

    @property
    def estimated_indexes(self):
        from premises.intervals import unpack_flags

        return unpack_flags(self.estimated)


class IntervalWrite(models.Model):
    """Which premises got new or changed days in which range, per writing run.

    Written in the same transaction as the days themselves
    (``premises.interval_feed.interval_days_upsert``), set-based: one row per
    premise per run (``batch``: one UUID per ``import_intervals`` or
    ``generate_intervals`` run, shared by its parallel writers; a premise
    written by two of them may have two rows). Days kept because a later
    revision was stored are not recorded. After a run the subscribers of
    ``premises.services.interval_writes_subscribe`` are called with the batch;
    whoever consumes the rows deletes them.
    """

    batch = models.UUIDField()
    # Nothing looks rows up by premise: a consumer reads a batch, or the old ones.
    premise = models.ForeignKey(Premise, on_delete=models.CASCADE, related_name="+", db_index=False)
    first_day = models.DateField()
    last_day = models.DateField()
    written_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["batch"], name="interval_write_batch_idx"),
            models.Index(fields=["written_at"], name="interval_write_written_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(last_day__gte=models.F("first_day")),
                name="interval_write_range_ordered",
            ),
        ]

    def __str__(self):
        return f"{self.batch} {self.premise_id} {self.first_day}..{self.last_day}"
