"""The data-access log: every read of meter data through the API, allowed or refused.

One row per request (never per reading), written once the answer is complete
(``services.data_access_log_write``): who (CSP and key), which agreement and
premise, which kind, format and range, how many intervals the answer carried,
which revision of the data it served, from where and when. Red flags (b) and
(d) judge these rows directly (``monitoring.detectors``); the customer's pages
and the admin show them.
"""

from django.db import models


class DataKind(models.TextChoices):
    INTERVALS = "intervals", "15-minute intervals"
    DAILY = "daily", "Daily usage"
    MONTHLY = "monthly", "Monthly usage"


class DataFormat(models.TextChoices):
    JSON = "json", "JSON"
    CSV = "csv", "CSV"
    ESPI = "espi", "Green Button (ESPI)"


class DataAccessLog(models.Model):
    id = models.BigAutoField(primary_key=True)
    created_at = models.DateTimeField()
    csp = models.ForeignKey(
        "csp_registry.Csp", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # The prefix of the key presented (the secret is never kept).
    key_prefix = models.CharField(max_length=8, blank=True)
    # The agreement id the URL named, whether or not it exists or is this CSP's:
    # a plain id, so refused reads of unknown agreements are kept too.
    agreement_id = models.BigIntegerField(null=True, blank=True)
    # The ESI ID asked for as given (cut to 22), and its premise when one exists.
    esi_id = models.CharField("ESI ID", max_length=22, blank=True)
    premise = models.ForeignKey(
        "premises.Premise", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    kind = models.CharField(max_length=10, choices=DataKind.choices)
    format = models.CharField(max_length=4, choices=DataFormat.choices, blank=True)
    start = models.DateField(null=True, blank=True)
    end = models.DateField(null=True, blank=True)
    status_code = models.PositiveSmallIntegerField()
    error_code = models.CharField(max_length=50, blank=True)
    # What the answer carried: local days and 15-minute readings (for daily and
    # monthly figures, the readings they were summed from).
    days = models.PositiveIntegerField(default=0)
    intervals = models.PositiveIntegerField(default=0)
    # The revision served: the latest revision among the days, and the digest
    # of every day's revision and import (the response's ETag).
    revision_latest = models.DateTimeField(null=True, blank=True)
    etag = models.CharField(max_length=32, blank=True)
    # False when the client went away before the whole body was sent.
    completed = models.BooleanField(default=True)
    # Made with a sandbox key: shown, never counted by monitoring.
    sandbox = models.BooleanField(default=False, db_default=False)
    ip = models.GenericIPAddressField()

    class Meta:
        verbose_name = "data access"
        verbose_name_plural = "data accesses"
        indexes = [
            models.Index(fields=["created_at"], name="data_access_time_idx"),
            models.Index(fields=["csp", "created_at"], name="data_access_csp_time_idx"),
            models.Index(fields=["premise", "created_at"], name="data_access_premise_time_idx"),
            models.Index(fields=["agreement_id", "created_at"], name="data_access_agreement_idx"),
        ]

    def __str__(self):
        return f"{self.kind} {self.esi_id} {self.start}..{self.end} → {self.status_code}"

    @property
    def allowed(self):
        return self.status_code < 300 or self.status_code == 304
