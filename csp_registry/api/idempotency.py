"""``Idempotency-Key`` for every POST of the CSP API.

Decorate the view's ``post`` with ``@idempotent``. With the header, the view
runs in one transaction that first inserts an ``IdempotencyKey`` row
(unique per CSP and key) and finally stores the response in it:

- same key, same body → the stored response again, the view does not run;
- same key, other body (or another endpoint) → 422 ``idempotency_key_reused``;
- two requests racing with one key: the second INSERT waits on the first's
  uncommitted row (PostgreSQL's unique index; SQLite's single writer), then
  finds it committed and replays it. If the first rolled back, the second
  simply runs.

Only responses the view *returns* are stored. An exception (a validation
error, ``ApiError``) rolls the whole transaction back, key row included, so
a retry is evaluated afresh and nothing was written.
"""

import functools
import hashlib
import json
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from csp_registry.models import IdempotencyKey

from .errors import ApiError

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255

PARAMETER = OpenApiParameter(
    HEADER,
    OpenApiTypes.STR,
    location=OpenApiParameter.HEADER,
    required=False,
    # What the docs promise (a subset of what _check_key accepts: no spaces, which
    # HTTP may strip from a header's ends); an ECMA class schemathesis draws from.
    pattern=r"^[!-~]{1,255}$",
    description=(
        "Any unique string (a UUID is best), at most 255 printable ASCII characters. "
        "Retrying with the same key and body returns the first response and changes "
        "nothing; the same key with another body is refused (422). Kept at least 24 hours."
    ),
)


def idempotent(post):
    @functools.wraps(post)
    def wrapper(view, request, *args, **kwargs):
        key = request.headers.get(HEADER)
        if key is None:
            return post(view, request, *args, **kwargs)
        _check_key(key)
        fingerprint = _fingerprint(request)
        with transaction.atomic():
            record, claimed = _claim(csp=request.csp, key=key, fingerprint=fingerprint)
            if not claimed:
                return _replay(record, fingerprint)
            response = post(view, request, *args, **kwargs)
            _store(record, response)
        return response

    wrapper.idempotent = True
    return wrapper


def _check_key(key):
    if 0 < len(key) <= MAX_KEY_LENGTH and key.isascii() and key.isprintable():
        return
    raise ApiError(
        status=400,
        code="invalid",
        message="The Idempotency-Key header is invalid.",
        fields={HEADER: [f"Use 1 to {MAX_KEY_LENGTH} printable ASCII characters."]},
    )


def _fingerprint(request):
    body = json.dumps(request.data, sort_keys=True, separators=(",", ":"), default=str)
    # A sandbox key's call never replays a live key's answer (nor the reverse).
    mode = "sandbox\n" if getattr(request.auth, "sandbox", False) else ""
    return hashlib.sha256(f"{mode}{request.method}\n{request.path}\n{body}".encode()).hexdigest()


def _claim(*, csp, key, fingerprint):
    now = timezone.now()
    # An expired key is forgotten (the purge job may not have run yet).
    IdempotencyKey.objects.filter(csp=csp, key=key, expires_at__lte=now).delete()
    keep_for = timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS)
    try:
        with transaction.atomic():
            record = IdempotencyKey.objects.create(
                csp=csp,
                key=key,
                request_hash=fingerprint,
                created_at=now,
                expires_at=now + keep_for,
            )
    except IntegrityError:
        return IdempotencyKey.objects.get(csp=csp, key=key), False
    return record, True


def _replay(record, fingerprint):
    if record.request_hash != fingerprint:
        raise ApiError(
            status=422,
            code="idempotency_key_reused",
            message="This Idempotency-Key was already used with a different request.",
        )
    response = Response(json.loads(record.response_body), status=record.response_status)
    response["Idempotent-Replayed"] = "true"
    return response


def _store(record, response):
    if response.status_code >= 500:
        transaction.set_rollback(True)  # a failure is not an answer worth replaying
        return
    # Stored as rendered JSON so a replay is byte-for-byte the first answer.
    record.response_body = JSONRenderer().render(response.data).decode()
    record.response_status = response.status_code
    record.save(update_fields=["response_body", "response_status"])
