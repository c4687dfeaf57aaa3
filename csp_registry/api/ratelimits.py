"""Rate limits per client IP and per CSP, on the shared cache (django-ratelimit).

``settings.API_RATE_LIMITS`` maps a scope to its rates, e.g.
``{"default": {"ip": "1200/m", "csp": "600/m"}, "premise_authentication": {...}}``.
Every request counts against ``default`` and against its view's own scope.
When the cache cannot be reached the request is refused with 503 before the
view runs, so nothing is written: an API without working limits would be
open to exactly the guessing the limits prevent.
"""

import logging

from django.conf import settings
from django_ratelimit.core import get_usage

from csp_registry.client_ip import ratelimit_ip_key

from .errors import ApiError

logger = logging.getLogger(__name__)


def _csp_key(group, request):
    return str(request.csp.pk)


_KEYS = {"ip": ratelimit_ip_key, "csp": _csp_key}


def enforce_rate_limits(request, *, scope, per):
    """Count this request for ``per`` ("ip" or "csp"); raise 429 or 503 when refused."""
    for scope_name in dict.fromkeys(["default", scope]):
        rate = settings.API_RATE_LIMITS.get(scope_name, {}).get(per)
        if rate:
            _count(request, group=f"api:{scope_name}:{per}", key=_KEYS[per], rate=rate)


def _count(request, *, group, key, rate):
    try:
        usage = get_usage(request, group=group, key=key, rate=rate, increment=True)
    except Exception as exc:  # redis-py and socket errors share no base class
        logger.warning("rate-limit cache unavailable: %s", exc.__class__.__name__)
        raise _unavailable() from exc
    if usage is None or not usage["should_limit"]:
        return
    if usage["time_left"] < 0:
        raise _unavailable()  # django-ratelimit's "the cache returned nothing"
    raise ApiError(
        status=429,
        code="rate_limited",
        message="Too many requests; retry after the number of seconds in Retry-After.",
        headers={"Retry-After": str(max(1, usage["time_left"]))},
    )


def _unavailable():
    return ApiError(
        status=503,
        code="service_unavailable",
        message="The service is briefly unavailable; nothing was done. Please retry.",
        headers={"Retry-After": "30"},
    )
