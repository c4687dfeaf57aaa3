"""Rate limits per client IP and per CSP, on the shared cache.

``settings.API_RATE_LIMITS`` maps a scope to its rates, e.g.
``{"default": {"ip": "1200/m", "csp": "600/m"}, "premise_authentication": {...}}``.
Every request counts against ``default`` and against its view's own scope.
When the cache cannot be reached the request is refused with 503 before the
view writes anything: an API without working limits would be open to exactly
the guessing the limits prevent.

The premise-check budget (``API_RATE_LIMITS["premise_authentication"]``)
counts premises checked, not requests: ``premise_checks_consume`` takes N
from it for a request holding N premises, wherever they are checked (premise
authentication, agreement creation), per client IP and per CSP.

One round trip. All of a request's counters go to Redis together, as one Lua
script (``_TAKE``): ``RateLimits`` collects the request's counters (per IP,
per CSP; default and scope) and sends them when the view begins, or, in a
view that checks premises (``CspApiMixin.rate_limits_deferred``), together
with the premise-check budget's INCRBY when ``premise_checks_consume`` runs.
The script raises the counters in order and stops at the first one past its
limit, exactly as the counters did one by one: a request counter stays
raised, a budget counter and every budget raised before it are given back
(a refused request checked nothing). The keys, windows and limits are
django-ratelimit's (request counters) and ours (budgets), so counters are
shared with anything counting the same keys. Another cache (the quick
start's local memory) takes the same counters one by one in the process.

The same script returns the API keys' generation (``csp_registry.key_cache``),
so that a process holding a request's key learns in this round trip whether
the key must be read again (``RateLimits(key_stale=...)``).
"""

import logging
import time
import zlib
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django_ratelimit import ALL
from django_ratelimit.core import EXPIRATION_FUDGE, _get_window, _make_cache_key, _split_rate

from csp_registry import key_cache
from smt_portal.client_ip import ratelimit_ip_key

from .errors import ApiError

logger = logging.getLogger(__name__)


def _csp_key(group, request):
    return str(request.csp.pk)


_KEYS = {"ip": ratelimit_ip_key, "csp": _csp_key}


@dataclass
class _Counter:
    """One fixed-window counter: raised by ``amount``, refused past ``limit``."""

    key: str  # the cache key, before the cache's own prefix and version
    amount: int
    limit: int
    period: int
    window_end: int
    budget: bool  # a premise-check budget (given back when refused), else a request counter

    def time_left(self):
        return self.window_end - int(time.time())


def _request_counter(request, *, scope_name, per, rate):
    group = f"api:{scope_name}:{per}"
    value = _KEYS[per](group, request)
    limit, period = _split_rate(rate)
    window = _get_window(value, period)
    return _Counter(
        key=_make_cache_key(group, window, rate, value, ALL),  # as get_usage makes it
        amount=1,
        limit=limit,
        period=period,
        window_end=window,
        budget=False,
    )


def _request_counters(request, *, scope, per):
    if not getattr(settings, "RATELIMIT_ENABLE", True):
        return []
    return [
        _request_counter(request, scope_name=scope_name, per=per, rate=rate)
        for scope_name in dict.fromkeys(["default", scope])
        if (rate := settings.API_RATE_LIMITS.get(scope_name, {}).get(per))
    ]


class RateLimits:
    """A request's counters, sent to the cache at once (see the module's docstring).

    ``count(per=...)`` adds the request's counters for ``"ip"`` or ``"csp"``;
    ``send(budgets=...)`` sends everything pending, with budget counters if
    any, in one round trip, and raises 429 or 503 when refused. When the
    request's key was held by this process under another generation than the
    one the script returns, the held key is forgotten and ``key_stale`` is
    called (it judges the request again on the key read afresh, and raises to
    refuse it; a refused request's budgets are given back). ``send(
    key_check=False)`` only forgets it: the request is being refused anyway.
    """

    def __init__(self, request, *, scope, key_stale=None):
        self.request = request
        self.scope = scope
        self.key_stale = key_stale
        self.pending = []
        self.on_pass = []

    def count(self, *, per):
        self.pending += _request_counters(self.request, scope=self.scope, per=per)

    def send(self, *, budgets=(), key_check=True):
        counters, self.pending = [*self.pending, *budgets], []
        if counters:
            generation = _take_or_refuse(counters)
            self._key_check(generation, budgets, key_check)
        callbacks, self.on_pass = self.on_pass, []
        for callback in callbacks:
            callback()

    def _key_check(self, generation, budgets, key_check):
        django_request = getattr(self.request, "_request", self.request)
        held = getattr(django_request, "api_key_generation", None)
        if held is None or generation == held:
            return
        key_cache.key_forget(django_request.api_key_prefix)
        django_request.api_key_generation = None
        if not key_check or self.key_stale is None:
            return
        try:
            self.key_stale()
        except Exception:
            for budget in budgets:
                _give_back(caches[settings.RATELIMIT_USE_CACHE], budget)
            raise


def enforce_rate_limits(request, *, scope, per):
    """Count this request for ``per`` ("ip" or "csp") now; raise 429 or 503 when refused."""
    limits = RateLimits(request, scope=scope)
    limits.count(per=per)
    limits.send()


def _take_or_refuse(counters, *, budget_message=None):
    """Take ``counters`` or raise 429 (or 503); returns the API keys'
    generation (``None`` off Redis)."""
    try:
        refused, generation = _take(counters)
    except Exception as exc:  # redis-py and socket errors share no base class
        logger.warning("rate-limit cache unavailable: %s", exc.__class__.__name__)
        # A change made while this process could not hear of it must not be
        # missed when Redis is back: every held key is read again.
        key_cache.keys_forget_all()
        raise _unavailable() from exc
    if refused is None:
        return generation
    if refused.budget:
        raise _rate_limited(
            f"This request would check {refused.amount} premise(s), more than the "
            f"premise-check budget has left ({refused.limit} per {refused.period} seconds); "
            "nothing was checked. Retry after the number of seconds in Retry-After.",
            time_left=refused.time_left(),
        )
    raise _rate_limited(
        "Too many requests; retry after the number of seconds in Retry-After.",
        time_left=refused.time_left(),
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
    budget than there is, never more. The cache unreachable → 503. The
    request's own counters still pending (``RateLimits``) go in the same
    round trip, first.
    """
    budgets = [
        _budget_counter(per=per, value=key(None, request), rate=rate, amount=count)
        for per, key in _KEYS.items()
        if (rate := settings.API_RATE_LIMITS.get(PREMISE_CHECKS_SCOPE, {}).get(per))
    ]
    limits = getattr(request, "rate_limits", None)
    if limits is None:
        _take_or_refuse(budgets)
    else:
        limits.send(budgets=budgets)


def budgets_take(budgets, *, count):
    """Raise each ``(per, value, rate)`` budget's window counter by ``count``, or none.

    Returns None when every budget had room, else the counter that had not
    (every counter raised is given its ``count`` back first; it has ``limit``,
    ``period`` and ``time_left()``). Used by the API and by customer accounts
    alike, in one round trip. Cache errors propagate: the caller answers 503,
    since nothing may be checked without working limits.
    """
    return counters_take(
        [
            _budget_counter(per=per, value=value, rate=rate, amount=count)
            for per, value, rate in budgets
        ]
    )


def _budget_counter(*, per, value, rate, amount):
    """A budget window, aligned as django-ratelimit aligns its own: on the epoch,
    offset by a hash of the key so that clients' windows do not all end together."""
    count, _, unit = rate.partition("/")
    period = _PERIODS[unit[-1]] * int(unit[:-1] or 1)
    now = int(time.time())
    offset = zlib.crc32(value.encode()) % period
    end = now - now % period + offset
    window_end = end if end > now else end + period
    return _Counter(
        key=f"premise-checks:{per}:{rate}:{value}:{window_end}",
        amount=amount,
        limit=int(count),
        period=period,
        window_end=window_end,
        budget=True,
    )


# --- Taking counters: one Lua script on Redis, one by one elsewhere ---------------------------

# KEYS: the API keys' generation, then the counters; ARGV: a generation to
# set if Redis has none (``key_cache.generation_candidate``), then amount,
# expiry, limit, budget (1/0) per counter. Returns {0 when every counter had
# room, else the 1-based index of the first that had not (the counters after
# it are not touched); the generation}.
_TAKE = """
redis.call('SET', KEYS[1], ARGV[1], 'NX')
local generation = redis.call('GET', KEYS[1])
for i = 1, #KEYS - 1 do
    local amount = tonumber(ARGV[4 * i - 2])
    local used = redis.call('INCRBY', KEYS[i + 1], amount)
    if used == amount then
        redis.call('EXPIRE', KEYS[i + 1], tonumber(ARGV[4 * i - 1]))
    end
    if used > tonumber(ARGV[4 * i]) then
        if ARGV[4 * i + 1] == '1' then
            for j = 1, i do
                if ARGV[4 * j + 1] == '1' then
                    redis.call('DECRBY', KEYS[j + 1], tonumber(ARGV[4 * j - 2]))
                end
            end
        end
        return {i, generation}
    end
end
return {0, generation}
"""
# One Script per process: it only holds the Lua text and its SHA; each call
# names the client to run on. (Django's RedisCache builds a new client object
# per call, so keeping a script per client would keep every client alive.)
_script = None


def counters_take(counters):
    """Raise ``counters`` in order; the first past its limit (None if none), as above."""
    refused, _ = _take(counters)
    return refused


def _take(counters):
    """``(the first counter past its limit or None, the API keys' generation or None)``."""
    cache = caches[settings.RATELIMIT_USE_CACHE]
    if isinstance(cache, RedisCache):
        return _take_on_redis(cache, counters)
    return _take_one_by_one(cache, counters), None


def _take_script(client):
    global _script
    if _script is None:
        _script = client.register_script(_TAKE)
    return _script


def _take_on_redis(cache, counters):
    keys = [key_cache.generation_key(cache)]
    keys += [cache.make_and_validate_key(counter.key) for counter in counters]
    client = key_cache.redis_client(cache)
    args = [key_cache.generation_candidate()]
    for counter in counters:
        args += [counter.amount, counter.period + EXPIRATION_FUDGE, counter.limit]
        args.append(1 if counter.budget else 0)
    refused, generation = _take_script(client)(keys=keys, args=args, client=client)
    if isinstance(generation, bytes):
        generation = generation.decode()
    return (counters[refused - 1] if refused else None), generation


def _take_one_by_one(cache, counters):
    taken = []
    for counter in counters:
        used = _raise(cache, counter)
        taken.append(counter)
        if used > counter.limit:
            if counter.budget:
                for earlier in taken:
                    if earlier.budget:
                        _give_back(cache, earlier)
            return counter
    return None


def _raise(cache, counter):
    # ``add`` creates the window's counter with its expiry, then ``incr`` raises
    # it; a counter that expired in between is created again.
    for _ in range(2):
        if cache.add(counter.key, counter.amount, counter.period + EXPIRATION_FUDGE):
            return counter.amount
        try:
            return cache.incr(counter.key, counter.amount)
        except ValueError:
            continue
    raise RuntimeError("the rate-limit counter could not be written")


def _give_back(cache, counter):
    try:
        cache.incr(counter.key, -counter.amount)
    except ValueError:
        pass  # the window's counter is gone: nothing left to give back to


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
