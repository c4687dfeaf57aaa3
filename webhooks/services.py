"""Webhook endpoints and deliveries: register, queue, claim, send, retry, disable.

Queueing: ``deliveries_queue`` subscribes to the event seam
(``csp_registry.events``), so the deliveries of an event are written in the
transaction of the change it reports and published after commit; the beat
relay (``deliveries_relay_pending``) sends whatever a lost publish left.

Delivery is at least once: a worker that dies after the receiver answered
and before the row says so sends again when its lease ends; every attempt
of an event carries the same ``webhook-id`` so receivers drop the copy.
Rows are claimed one at a time by conditional UPDATEs, like the email outbox.

Failures (no answer, a time-out, any status outside 2xx, a redirect) are
retried with exponential backoff and full jitter until ``deliver_until``
(72 hours after the event), then fail visibly. An endpoint every attempt to
which has failed for ``WEBHOOKS_DISABLE_AFTER_HOURS`` is disabled and the
CSP is emailed; its events stay in the feed (``GET /api/v1/events/``).

Who receives: an active CSP. A suspended CSP's deliveries wait (only its
own ``csp.suspended`` notice goes out) and get a fresh window when the CSP
is reinstated; a revoked CSP's are cancelled and it is sent nothing.
"""

import json
import logging
import random
import secrets
import time
from collections import defaultdict
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Concat
from django.utils import timezone

from csp_registry.events import event_payload
from csp_registry.models import CspStatus, EventType

from . import emails, sender
from .models import (
    UNSENT_STATUSES,
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from .safety import UnsafeUrl, url_check
from .signing import SHOWN_PREFIX_LENGTH, secret_new, signed_headers

logger = logging.getLogger(__name__)

MAX_ENDPOINTS_PER_CSP = 10
BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_CAP = timedelta(hours=4)
RELAY_WINDOW = 20
# Up to this many new deliveries are published one task each; more (a sweep
# that times out a thousand requests) are published as one relay.
PUBLISH_ONE_BY_ONE = 20


class EndpointInvalid(Exception):
    """A registration refused; ``fields`` maps each field to its messages."""

    def __init__(self, fields):
        super().__init__("; ".join(m for messages in fields.values() for m in messages))
        self.fields = fields


def delivery_window():
    return timedelta(hours=settings.WEBHOOKS_DELIVERY_WINDOW_HOURS)


def claim_lease() -> timedelta:
    """Longer than any live attempt can take (its whole budget, twice)."""
    return timedelta(seconds=2 * settings.WEBHOOKS_TIMEOUT_SECONDS + 5)


# --- Endpoints -------------------------------------------------------------------------


def endpoint_create(*, csp, url, event_types, now) -> tuple[WebhookEndpoint, str]:
    """Register an endpoint; returns it and its signing secret (the only time it exists)."""
    errors = {}
    try:
        url_check(url)
    except UnsafeUrl as exc:
        errors["url"] = [str(exc)]
    types = _event_types_check(event_types, errors)
    if errors:
        raise EndpointInvalid(errors)
    with transaction.atomic():
        live = WebhookEndpoint.objects.select_for_update().filter(csp=csp, deleted_at=None)
        if len(live) >= MAX_ENDPOINTS_PER_CSP:  # len: the rows are locked, not counted
            raise EndpointInvalid({"url": [
                f"At most {MAX_ENDPOINTS_PER_CSP} endpoints per provider; delete one first."
            ]})  # fmt: skip
        seal, secret = secret_new()
        endpoint = WebhookEndpoint.objects.create(
            csp=csp, url=url, event_types=types, secret_seal=seal,
            secret_prefix=secret[:SHOWN_PREFIX_LENGTH], created_at=now,
        )  # fmt: skip
    return endpoint, secret


def _event_types_check(event_types, errors):
    known = set(EventType.values)
    if not isinstance(event_types, list) or not event_types:
        errors["events"] = [f"List one or more event types: {', '.join(EventType.values)}."]
        return []
    unknown = [t for t in event_types if t not in known]
    if unknown:
        errors["events"] = [f"Unknown event type {str(t)[:60]!r}." for t in unknown[:10]]
        return []
    return sorted(set(event_types), key=EventType.values.index)


def endpoint_delete(*, endpoint, now) -> bool:
    """Stop sending to an endpoint for good; its history stays. True if it was live."""
    with transaction.atomic():
        deleted = WebhookEndpoint.objects.filter(pk=endpoint.pk, deleted_at=None).update(
            deleted_at=now
        )
        if deleted:
            _cancel_unsent(
                query=Q(endpoint_id=endpoint.pk), reason="the endpoint was deleted", now=now
            )
    return bool(deleted)


def endpoints_disable_failing(*, now) -> int:
    """Disable every live endpoint whose attempts have all failed for the set time."""
    cutoff = now - timedelta(hours=settings.WEBHOOKS_DISABLE_AFTER_HOURS)
    ids = WebhookEndpoint.objects.filter(
        deleted_at=None, disabled_at=None, failing_since__lte=cutoff
    ).values_list("pk", flat=True)
    return sum(_endpoint_disable(endpoint_id=pk, now=now) for pk in list(ids))


def _endpoint_disable(*, endpoint_id, now) -> bool:
    cutoff = now - timedelta(hours=settings.WEBHOOKS_DISABLE_AFTER_HOURS)
    with transaction.atomic():
        disabled = WebhookEndpoint.objects.filter(
            pk=endpoint_id, deleted_at=None, disabled_at=None, failing_since__lte=cutoff
        ).update(
            disabled_at=now,
            disabled_reason=f"Every attempt failed for {settings.WEBHOOKS_DISABLE_AFTER_HOURS} "
            "hours.",
        )
        if not disabled:
            return False
        _cancel_unsent(
            query=Q(endpoint_id=endpoint_id), reason="the endpoint was disabled", now=now
        )
        endpoint = WebhookEndpoint.objects.select_related("csp").get(pk=endpoint_id)
        last = (
            WebhookAttempt.objects.filter(delivery__endpoint_id=endpoint_id).order_by("-id").first()
        )
        emails.endpoint_disabled(endpoint=endpoint, last_attempt=last, now=now)
    logger.warning("webhooks: endpoint %s disabled after persistent failure", endpoint_id)
    return True


def _cancel_unsent(*, query, reason, now):
    """Rows that will not go out stop, cancelled with the reason: pending rows, and
    sending rows whose lease ended (a live claim is left to its worker)."""
    return (
        WebhookDelivery.objects.filter(
            Q(status=DeliveryStatus.PENDING)
            | Q(status=DeliveryStatus.SENDING, next_attempt_at__lte=now)
        )
        .filter(query)
        .update(status=DeliveryStatus.CANCELLED, claim_token="", last_error=f"Cancelled: {reason}.")
    )


# --- Queueing (the event seam's subscriber) ----------------------------------------------


def deliveries_queue(events) -> list[WebhookDelivery]:
    """Queue one delivery per event and live endpoint subscribed to its type.

    Runs inside the emitting transaction: one query for the endpoints, one
    INSERT for the deliveries, a publish after commit. Nothing for a revoked
    (or not yet approved) CSP. A ``csp.reinstated`` event releases the rows
    held while the CSP was suspended.
    """
    if not events:
        return []
    now = events[0].occurred_at
    reinstated = {e.csp_id for e in events if e.type == EventType.CSP_REINSTATED}
    if reinstated:
        deliveries_release_held(csp_ids=reinstated, now=now)
    endpoints = defaultdict(list)
    for endpoint in WebhookEndpoint.objects.filter(
        csp_id__in={e.csp_id for e in events},
        csp__status__in=[CspStatus.ACTIVE, CspStatus.SUSPENDED],
        deleted_at=None,
        disabled_at=None,
    ).only("pk", "csp_id", "event_types"):
        endpoints[endpoint.csp_id].append(endpoint)
    rows = [
        WebhookDelivery(
            endpoint_id=endpoint.pk,
            event_id=event.pk,
            next_attempt_at=now,
            deliver_until=now + delivery_window(),
            created_at=now,
        )  # fmt: skip
        for event in events
        for endpoint in endpoints[event.csp_id]
        if event.type in endpoint.event_types
    ]
    created = WebhookDelivery.objects.bulk_create(rows, batch_size=1000)
    if created:
        ids = [row.pk for row in created]
        transaction.on_commit(partial(_publish, ids if len(ids) <= PUBLISH_ONE_BY_ONE else None))
    return created


def deliveries_release_held(*, csp_ids, now) -> int:
    """A reinstated CSP's waiting rows are due now, with a fresh delivery window."""
    released = WebhookDelivery.objects.filter(
        endpoint__csp_id__in=csp_ids, status=DeliveryStatus.PENDING
    ).update(next_attempt_at=now, deliver_until=now + delivery_window())
    if released:
        transaction.on_commit(partial(_publish, None))
    return released


def _publish(delivery_ids):
    """Hand the sends to the broker; if it is down, the beat relay sends them."""
    from .tasks import relay_webhook_deliveries, send_webhook_delivery  # tasks import this

    try:
        if delivery_ids is None:
            relay_webhook_deliveries.delay()
        else:
            for delivery_id in delivery_ids:
                send_webhook_delivery.delay(delivery_id)
    except Exception as exc:  # any broker failure; the relay is the fallback
        logger.warning("webhooks: could not publish (%s); the relay will send", type(exc).__name__)


# --- Who may be sent what: one predicate ----------------------------------------------


def sendable() -> Q:
    """A delivery may go out to an active CSP; to a suspended one only its suspension."""
    return Q(endpoint__csp__status=CspStatus.ACTIVE) | Q(
        endpoint__csp__status=CspStatus.SUSPENDED, event__type=EventType.CSP_SUSPENDED
    )


def held() -> Q:
    """Rows waiting for their suspended CSP's reinstatement: never due, never expired."""
    return Q(endpoint__csp__status=CspStatus.SUSPENDED) & ~Q(event__type=EventType.CSP_SUSPENDED)


def _due(now):
    # Pending rows past their backoff, and sending rows whose lease ran out.
    return (
        Q(status__in=UNSENT_STATUSES, next_attempt_at__lte=now, deliver_until__gt=now)
        & Q(endpoint__deleted_at=None, endpoint__disabled_at=None)
        & sendable()
    )


# --- Claiming and sending ------------------------------------------------------------


def delivery_claim(*, delivery_id, now) -> str | None:
    """Claim one due row for one lease; the claim token, or None if it was not ours."""
    token = secrets.token_hex(16)
    claimed = WebhookDelivery.objects.filter(_due(now), pk=delivery_id).update(
        status=DeliveryStatus.SENDING,
        claim_token=token,
        claimed_at=now,
        next_attempt_at=now + claim_lease(),
        attempts=F("attempts") + 1,
    )
    return token if claimed else None


def delivery_send(*, delivery_id, now) -> bool:
    """Claim and send one delivery if it is due; True when the receiver took it."""
    token = delivery_claim(delivery_id=delivery_id, now=now)
    if token is None:
        return False
    return _attempt(_load(delivery_id), token=token, now=now)


def deliveries_relay_pending(*, now, limit: int = 500) -> int:
    """The sweep: expire, cancel and disable what must stop, then send due rows one
    claim at a time. Returns how many were delivered."""
    deliveries_expire(now=now)
    endpoints_disable_failing(now=now)
    delivered = handled = 0
    while handled < limit:
        window = list(
            WebhookDelivery.objects.filter(_due(now))
            .order_by("next_attempt_at", "pk")
            .values_list("pk", flat=True)[: min(RELAY_WINDOW, limit - handled)]
        )
        if not window:
            break
        for delivery_id in window:
            handled += 1
            token = delivery_claim(delivery_id=delivery_id, now=now)
            if token is not None:  # else another worker took it meanwhile
                delivered += _attempt(_load(delivery_id), token=token, now=now)
    return delivered


def deliveries_expire(*, now) -> int:
    """Rows that can no longer go out stop, in set-based UPDATEs: a revoked CSP's and a
    deleted or disabled endpoint's are cancelled; rows past ``deliver_until`` fail
    (a suspended CSP's held rows wait for its reinstatement)."""
    _cancel_unsent(query=Q(endpoint__csp__status=CspStatus.REVOKED), reason="the CSP is revoked",
                   now=now)  # fmt: skip
    _cancel_unsent(
        query=Q(endpoint__deleted_at__isnull=False) | Q(endpoint__disabled_at__isnull=False),
        reason="the endpoint was deleted or disabled", now=now,
    )  # fmt: skip
    return (
        WebhookDelivery.objects.filter(
            status__in=UNSENT_STATUSES, deliver_until__lte=now, next_attempt_at__lte=now
        )
        .exclude(held())
        .update(
            status=DeliveryStatus.FAILED,
            claim_token="",
            last_error=Concat(F("last_error"), Value(" — not delivered within its window.")),
        )
    )


def _load(delivery_id):
    return WebhookDelivery.objects.select_related("endpoint", "event").get(pk=delivery_id)


def payload_body(event) -> str:
    """The exact text that is signed and sent."""
    return json.dumps(event_payload(event), separators=(",", ":"), ensure_ascii=False)


def _attempt(delivery, *, token, now) -> bool:
    endpoint, event = delivery.endpoint, delivery.event
    body = payload_body(event)
    # The signature's timestamp is the moment of this attempt, not the sweep's
    # start: receivers refuse timestamps older than a few minutes.
    attempted_at = max(now, timezone.now())
    headers = signed_headers(
        seal=endpoint.secret_seal, msg_id=event.public_id,
        timestamp=int(attempted_at.timestamp()), body=body,
    )  # fmt: skip
    started = time.monotonic()
    try:
        answer, error = sender.post(endpoint.url, body=body.encode(), headers=headers), ""
    except (UnsafeUrl, sender.SendFailed) as exc:
        answer, error = None, str(exc)[:500]
    if answer is not None and not answer.ok:
        error = _refusal(answer)
    duration_ms = int((time.monotonic() - started) * 1000)
    with transaction.atomic():
        WebhookAttempt.objects.create(
            delivery_id=delivery.pk, started_at=attempted_at, duration_ms=duration_ms,
            status_code=answer.status_code if answer else None, error=error,
            response_excerpt=answer.excerpt if answer else "",
        )  # fmt: skip
        if not error:
            _mark(delivery.pk, token, status=DeliveryStatus.DELIVERED, delivered_at=attempted_at,
                  last_status_code=answer.status_code, last_error="")  # fmt: skip
            WebhookEndpoint.objects.filter(pk=endpoint.pk, failing_since__isnull=False).update(
                failing_since=None
            )
            return True
        _record_failure(delivery, token=token, answer=answer, error=error, now=now)
    _endpoint_disable(endpoint_id=endpoint.pk, now=now)  # if it has failed long enough
    return False


def _refusal(answer):
    if 300 <= answer.status_code < 400:
        return f"HTTP {answer.status_code}: redirects are not followed ({answer.location})"[:500]
    return f"HTTP {answer.status_code}"


def _record_failure(delivery, *, token, answer, error, now):
    logger.info("webhooks: delivery %s attempt %s failed", delivery.pk, delivery.attempts)
    WebhookEndpoint.objects.filter(pk=delivery.endpoint_id, failing_since__isnull=True).update(
        failing_since=now
    )
    code = answer.status_code if answer else None
    retry_at = now + backoff_delay(delivery.attempts)
    if retry_at >= delivery.deliver_until:
        error = f"{error} — the window for this delivery ended; no further attempts."
        _mark(delivery.pk, token, status=DeliveryStatus.FAILED, last_status_code=code,
              last_error=error)  # fmt: skip
    else:
        _mark(delivery.pk, token, status=DeliveryStatus.PENDING, next_attempt_at=retry_at,
              last_status_code=code, last_error=error)  # fmt: skip


def backoff_delay(attempts: int, *, rng=random) -> timedelta:
    """Full jitter: a random wait up to 30 s × 2^(attempts−1), at most 4 hours.

    Random, so receivers that come back after an outage are not hit by every
    delayed delivery in the same second; at least a second, so a failing
    receiver is never retried in a loop."""
    doublings = min(max(attempts - 1, 0), 20)
    ceiling = min(BACKOFF_BASE * 2**doublings, BACKOFF_CAP)
    return max(timedelta(seconds=1), ceiling * rng.random())


def _mark(delivery_id, token, **values):
    # Only the holder of the claim records the outcome.
    changed = WebhookDelivery.objects.filter(
        pk=delivery_id, status=DeliveryStatus.SENDING, claim_token=token
    ).update(claim_token="", **values)
    if not changed:
        logger.warning("webhooks: delivery %s was taken over before its outcome", delivery_id)
    return bool(changed)


# --- Resending (the CSP, staff) -------------------------------------------------------


def delivery_resend(*, delivery_id, now) -> bool:
    """Send a delivery again now, with a fresh window; True if it was queued.

    Any delivery not being sent this moment may be resent (a CSP that lost
    one it had received, or one that failed), if its endpoint is still live.
    """
    resent = WebhookDelivery.objects.filter(
        pk=delivery_id,
        status__in=[DeliveryStatus.PENDING, DeliveryStatus.DELIVERED, DeliveryStatus.FAILED,
                    DeliveryStatus.CANCELLED],
        endpoint__deleted_at=None,
        endpoint__disabled_at=None,
    ).update(
        status=DeliveryStatus.PENDING, attempts=0, next_attempt_at=now,
        deliver_until=now + delivery_window(), claim_token="",
    )  # fmt: skip
    if resent:
        transaction.on_commit(partial(_publish, [delivery_id]))
    return bool(resent)
