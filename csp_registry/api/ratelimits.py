"""Rate limits per client IP and per CSP, on the shared cache (django-ratelimit).

``settings.API_RATE_LIMITS`` maps a scope to its rates, e.g.
``{"default": {"ip": "1200/m", "csp": "600/m"}, "premise_authentication": {...}}``.
Every request counts against ``default`` and against its view's own scope.
When the cache cannot be reached the request is refused with 503 before the
view runs, so nothing is written: an API without working limits would be
open to exactly the guessing the limits prevent.

The premise-check budget (``API_RATE_LIMITS["premise_authentication"]``)
counts premises checked, not requests: ``premise_checks_consume`` takes N
from it for a request holding N premises, wherever they are checked (premise
authentication, agreement creation), per client IP and per CSP.
"""

import logging
import time
import zlib

from django.conf import settings
from django.core.cache import caches
from django_ratelimit.core import get_usage

from smt_portal.client_ip import ratelimit_ip_key

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
    raise _rate_limited(
        "Too many requests; retry after the number of seconds in Retry-After.",
        time_left=usage["time_left"],
    )


# --- The premise-check budget ----------------------------------------------------------------

PREMISE_CHECKS_SCOPE = "premise_authentication"
_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def premise_checks_consume(request, *, count):
    """Take ``count`` premise checks from this client's budgets, or refuse them all.

    Call it once the request is valid and before any premise is checked. Per
    client IP, then per CSP, the window's counter is raised by ``count`` in one
    atomic INCRBY, so concurrent requests cannot both pass on the same last
    checks (no check-then-act). A counter that passes its limit refuses the
    request whole (429) and gives its ``count`` back, and so does any counter
    already raised: the budget counts premises checked, and a refused request
    checked none. Giving back can only make a concurrent request see less
    budget than there is, never more. The cache unreachable → 503.
    """
    budgets = [
        (per, key(None, request), rate)
        for per, key in _KEYS.items()
        if (rate := settings.API_RATE_LIMITS.get(PREMISE_CHECKS_SCOPE, {}).get(per))
    ]
    try:
        refused = budgets_take(budgets, count=count)
    except Exception as exc:  # redis-py and socket errors share no base class
        logger.warning("rate-limit cache unavailable: %s", exc.__class__.__name__)
        raise _unavailable() from exc
    if refused is not None:
        raise _rate_limited(
            f"This request would check {count} premise(s), more than the premise-check "
            f"budget has left ({refused.limit} per {refused.period} seconds); nothing "
            "was checked. Retry after the number of seconds in Retry-After.",
            time_left=refused.time_left(),
        )


def budgets_take(budgets, *, count):
    """Raise each ``(per, value, rate)`` budget's window counter by ``count``, or none.

    Returns None when every budget had room, else the counter that had not
    (every counter raised is given its ``count`` back first). Used by the API
    and by customer accounts alike. Cache errors propagate: the caller answers
    503, since nothing may be checked without working limits.
    """
    taken = []
    for per, value, rate in budgets:
        counter = _BudgetCounter(per=per, value=value, rate=rate)
        used = counter.add(count)
        taken.append(counter)
        if used > counter.limit:
            _give_back(taken, count)
            return counter
    return None


def _give_back(counters, count):
    for counter in counters:
        counter.give_back(count)


class _BudgetCounter:
    """A fixed-window counter on the rate-limit cache, raised by any amount.

    Windows are aligned as django-ratelimit aligns its own: on the epoch, offset
    by a hash of the key so that clients' windows do not all end together.
    """

    def __init__(self, *, per, value, rate):
        count, _, unit = rate.partition("/")
        self.limit = int(count)
        self.period = _PERIODS[unit[-1]] * int(unit[:-1] or 1)
        now = int(time.time())
        offset = zlib.crc32(value.encode()) % self.period
        end = now - now % self.period + offset
        self.window_end = end if end > now else end + self.period
        self.key = f"premise-checks:{per}:{rate}:{value}:{self.window_end}"
        self.cache = caches[settings.RATELIMIT_USE_CACHE]

    def add(self, amount):
        # ``add`` creates the window's counter with its expiry (SET NX), then
        # ``incr`` raises it atomically; a counter that expired in between is
        # created again.
        for _ in range(2):
            if self.cache.add(self.key, amount, self.period + 5):
                return amount
            try:
                return self.cache.incr(self.key, amount)
            except ValueError:
                continue
        raise RuntimeError("the premise-check counter could not be written")

    def give_back(self, amount):
        try:
            self.cache.incr(self.key, -amount)
        except ValueError:
            pass  # the window's counter is gone: nothing left to give back to

    def time_left(self):
        return self.window_end - int(time.time())


def _rate_limited(message, *, time_left):
    return ApiError(
        status=429,
        code="rate_limited",
        message=message,
        headers={"Retry-After": str(max(1, time_left))},
    )


def _unavailable():
    return ApiError(
        status=503,
        code="service_unavailable",
        message="The service is briefly unavailable; nothing was done. Please retry.",
        headers={"Retry-After": "30"},
    )
