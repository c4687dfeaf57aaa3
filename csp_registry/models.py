"""Competitive Service Providers: who they are, how to reach them, their status."""

import ipaddress

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from .key_cache import api_keys_changed


class CspStatus(models.TextChoices):
    PENDING_REVIEW = "pending_review", "Pending review"
    ACTIVE = "active", "Active"
    SUSPENDED = "suspended", "Suspended"
    REVOKED = "revoked", "Revoked"


# A registration lists the networks a CSP's servers call from. Wider than these
# it is no restriction at all (and the "CSP affirming for the customer"
# detector would count every opt-in as the CSP's own), so it is refused.
MIN_PREFIX_LENGTH = {4: 8, 6: 32}
MAX_IP_RANGES = 100
_SHOWN = 60  # characters of a refused value repeated in its error message


def _shown(token):
    return repr(token if len(token) <= _SHOWN else token[:_SHOWN] + "…")


def _prefix_length(token, address, suffix):
    """The prefix length a range's suffix means: digits, or an IPv4 netmask.

    A host mask (``/0.0.0.255``, Cisco's wildcard) is refused rather than
    read: it looks like a netmask typed backwards, and guessing which one was
    meant is how an allow-list becomes the whole internet."""
    if suffix.isascii() and suffix.isdigit():
        return int(suffix)
    if address.version == 4 and suffix.count(".") == 3:
        try:
            host_bits = ~int(ipaddress.IPv4Address(suffix)) & 0xFFFFFFFF
        except ValueError:
            host_bits = None
        if host_bits is not None and host_bits & (host_bits + 1) == 0:
            return 32 - host_bits.bit_length()
        if host_bits is not None:
            raise ValidationError(
                f"{_shown(token)}: /{suffix[:_SHOWN]} is not a netmask (a host mask?); write "
                "the prefix length, as in 203.0.113.0/24."
            )
    raise ValidationError(f"{_shown(token)} is not an IP address or CIDR range.")


def canonical_ip_range(token):
    """One registered range as an ``ip_network`` in its one accepted meaning, or
    ``ValidationError`` saying why not.

    Accepted: an address (``/32`` or ``/128``), ``address/prefix`` and the IPv4
    netmask form (``/255.255.255.0``, converted). Refused: zone ids (they name
    an interface of one machine), host bits after the prefix (``10.0.0.1/24``:
    the host or the network?), leading zeros (octal to some parsers),
    IPv4-mapped IPv6 (calls arrive as IPv4), multicast and unspecified
    addresses (no call comes from them), and ranges wider than
    ``MIN_PREFIX_LENGTH``."""
    shown = _shown(token)
    if "%" in token:
        raise ValidationError(f"{shown}: a zone id (%…) names an interface of one machine; "
                              "write the range without it.")  # fmt: skip
    text, slash, suffix = token.partition("/")
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        raise ValidationError(f"{shown} is not an IP address or CIDR range.") from None
    prefix = _prefix_length(token, address, suffix) if slash else address.max_prefixlen
    try:
        network = ipaddress.ip_network(f"{address}/{prefix}", strict=False)
    except ValueError:
        raise ValidationError(f"{shown} is not an IP address or CIDR range.") from None
    _refuse_special(network, shown)
    if network.network_address != address:
        raise ValidationError(
            f"{shown} has bits set after the prefix: write {network} for the network "
            f"or {address}/{address.max_prefixlen} for the one address."
        )
    return network


def _refuse_special(network, shown):
    mapped = network.version == 6 and network.network_address.ipv4_mapped
    if mapped and network.prefixlen >= 96:
        raise ValidationError(f"{shown} is an IPv4-mapped IPv6 range; calls arrive as IPv4, "
                              f"so write {mapped}/{network.prefixlen - 96}.")  # fmt: skip
    if network.prefixlen < MIN_PREFIX_LENGTH[network.version]:
        raise ValidationError(
            f"{shown} is wider than /{MIN_PREFIX_LENGTH[network.version]}; register only the "
            "ranges your servers call from."
        )
    if network.is_multicast or network.is_unspecified:
        raise ValidationError(f"{shown} is not an address an API call can come from.")


def canonical_ip_ranges(text):
    """The registration text in its one stored form: each range as
    ``address/prefix`` (lower-case, compressed), duplicates dropped, sorted
    IPv4 first, one per line. The detectors' SQL casts every stored range to
    ``inet``; only this form reaches the database. ``ValidationError`` lists
    every refused range."""
    tokens = (text or "").replace(",", "\n").split()
    if len(tokens) > MAX_IP_RANGES:
        raise ValidationError(f"At most {MAX_IP_RANGES} ranges; this lists {len(tokens)}.")
    networks, errors = set(), []
    for token in tokens:
        try:
            networks.add(canonical_ip_range(token))
        except ValidationError as exc:
            errors.extend(exc.messages)
    if errors:
        raise ValidationError(errors)
    ordered = sorted(networks, key=lambda n: (n.version, n.network_address, n.prefixlen))
    return "\n".join(str(network) for network in ordered)


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
    """Kept for migration 0001, which names it; ``IpRangesField`` validates now."""
    canonical_ip_ranges(text)


class IpRangesField(models.TextField):
    """Registered ranges, stored only in ``canonical_ip_ranges`` form.

    ``to_python`` canonicalises in ``full_clean`` (forms, the admin) and
    ``pre_save`` on every ``save()``/``create()``, so no path through the ORM
    stores a range the detectors cannot read; what cannot be canonical is
    refused (``ValidationError``)."""

    def to_python(self, value):
        return canonical_ip_ranges(super().to_python(value) or "")

    def pre_save(self, model_instance, add):
        value = canonical_ip_ranges(getattr(model_instance, self.attname) or "")
        setattr(model_instance, self.attname, value)
        return value


class KeysChangingQuerySet(models.QuerySet):
    """CSPs and API keys: every write through a queryset (an ``update``, bulk
    writes) draws a new API-key generation, as saving or deleting one does
    (``_keys_changed``), so that no process goes on using a key as it was
    (``key_cache``). A key's ``last_used_at`` alone changes nothing it is judged by."""

    def update(self, **kwargs):
        updated = super().update(**kwargs)
        if updated and set(kwargs) != {"last_used_at"}:
            api_keys_changed()
        return updated

    def bulk_create(self, objs, *args, **kwargs):
        created = super().bulk_create(objs, *args, **kwargs)
        api_keys_changed()
        return created

    def bulk_update(self, objs, fields, *args, **kwargs):
        updated = super().bulk_update(objs, fields, *args, **kwargs)
        api_keys_changed()
        return updated


class Csp(models.Model):
    """A Competitive Service Provider registered with the portal (R1)."""

    legal_name = models.CharField(max_length=200)
    dba_name = models.CharField("DBA", max_length=200, blank=True)
    # Blank only until staff enter it: nothing is invented (``create_csp``).
    duns_number = models.CharField("DUNS number", max_length=13, blank=True)
    puct_registration_number = models.CharField(
        "PUCT registration number", max_length=20, blank=True
    )
    contact_name = models.CharField(max_length=200)
    contact_email = models.EmailField()
    contact_phone = models.CharField(max_length=40)
    # Enforcement notices (R21) go here, not to the day-to-day contact.
    notice_email = models.EmailField()
    mailing_address = models.TextField(blank=True)
    website_url = models.URLField(blank=True)
    privacy_policy_url = models.URLField("privacy policy URL", blank=True)
    # Shown to customers word for word, each in its language. Without both the
    # CSP cannot start requests (``has_scope_of_use``).
    scope_of_use = models.TextField(
        "scope of use (English)",
        blank=True,
        help_text="What the CSP will do with the data, in English, shown to customers word "
        "for word. Requests cannot start while this or the Spanish one is empty.",
    )
    scope_of_use_es = models.TextField(
        "scope of use (Spanish)",
        blank=True,
        help_text="The same statement in Spanish, shown to Spanish-speaking customers.",
    )
    registered_ip_ranges = IpRangesField(
        "registered source IP ranges",
        blank=True,
        help_text="Optional. One CIDR per line (203.0.113.0/24, 2001:db8::/48); API calls "
        "from elsewhere are refused.",
    )
    status = models.CharField(
        max_length=20, choices=CspStatus.choices, default=CspStatus.PENDING_REVIEW
    )
    status_changed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = KeysChangingQuerySet.as_manager()

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
    def has_scope_of_use(self):
        """Its statement of how it will use the data exists in English and Spanish."""
        return bool(self.scope_of_use.strip() and self.scope_of_use_es.strip())

    def scope_of_use_in(self, language):
        """``(text, language of the text)``: the statement in ``language`` when
        the CSP gave one, else the other (which the page must mark with ``lang``)."""
        if language == "es" and self.scope_of_use_es.strip():
            return self.scope_of_use_es, "es"
        if self.scope_of_use.strip():
            return self.scope_of_use, "en"
        return self.scope_of_use_es, "es"

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
    # A sandbox key (``smt_test_…``, glossary "Sandbox") acts only on sandbox
    # premises and sandbox agreements; a live key never sees them.
    sandbox = models.BooleanField(default=False, db_default=False)

    objects = KeysChangingQuerySet.as_manager()

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


@receiver(post_save, sender=Csp)
@receiver(post_save, sender=ApiKey)
@receiver(post_delete, sender=Csp)
@receiver(post_delete, sender=ApiKey)
def _keys_changed(sender, update_fields=None, **kwargs):
    if update_fields is not None and set(update_fields) == {"last_used_at"}:
        return
    api_keys_changed()


class ApiRequestLog(models.Model):
    """One row per request to /api/, for monitoring (R17, R18, red flag c)."""

    # Indexed by ``api_log_csp_time_idx``, which leads with it: every request
    # writes every index of this table.
    csp = models.ForeignKey(
        Csp, on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_index=False
    )
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
    # What the call was about, from the URL route it matched (never by parsing
    # the path again): the endpoint's name and the agreement it named, if any.
    endpoint = models.CharField(max_length=64, blank=True)
    agreement_id = models.BigIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    # Made with a sandbox key: never counted by monitoring (glossary, "Sandbox").
    sandbox = models.BooleanField(default=False, db_default=False)
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


class EventType(models.TextChoices):
    """What a CSP is told (contract, "Webhooks"): the webhooks' payloads and the event feed."""

    AGREEMENT_AFFIRMED = "agreement.affirmed", "Agreement affirmed"
    AGREEMENT_OPTED_OUT = "agreement.opted_out", "Agreement opted out"
    AGREEMENT_REPORTED_SPAM = "agreement.reported_spam", "Agreement reported as spam"
    AGREEMENT_TIMED_OUT = "agreement.timed_out", "Agreement timed out"
    AGREEMENT_TERMINATED = "agreement.terminated", "Agreement terminated"
    AGREEMENT_REVOKED = "agreement.revoked", "Agreement revoked"
    AGREEMENT_TERM_ENDED = "agreement.term_ended", "Agreement term ended"
    AGREEMENT_RENEWED = "agreement.renewed", "Agreement renewed"
    RENEWAL_DECLINED = "renewal.declined", "Renewal declined"
    CSP_SUSPENDED = "csp.suspended", "CSP suspended"
    CSP_REINSTATED = "csp.reinstated", "CSP reinstated"
    DATA_AVAILABLE = "data.available", "Data available"


class CspEvent(models.Model):
    """One thing a CSP is told, written in the transaction of the change it reports.

    The event feed (``GET /api/v1/events/``) reads these rows in ``id`` order;
    webhook deliveries are queued from them by the subscribers of
    ``csp_registry.events``. ``data`` is the payload's ``data`` member: the
    agreement as the API shows it (masked email), or the CSP.
    """

    id = models.BigAutoField(primary_key=True)
    csp = models.ForeignKey(Csp, on_delete=models.PROTECT, related_name="+")
    type = models.CharField(max_length=40, choices=EventType.choices)
    # A plain id, not a foreign key: this app sits below the agreements' app.
    agreement_id = models.BigIntegerField(null=True, blank=True)
    # An event of a sandbox agreement: in the sandbox keys' feed, not the live keys'.
    sandbox = models.BooleanField(default=False, db_default=False)
    occurred_at = models.DateTimeField()
    data = models.JSONField()

    class Meta:
        indexes = [
            # The feed: one CSP's events after a cursor, oldest first.
            models.Index(fields=["csp", "id"], name="csp_event_feed_idx"),
            models.Index(fields=["agreement_id", "id"], name="csp_event_agreement_idx"),
        ]

    def __str__(self):
        return f"{self.type} #{self.pk}"

    @property
    def public_id(self):
        """The event's id as CSPs see it (and as Standard Webhooks' ``webhook-id``)."""
        return f"evt_{self.pk}"
