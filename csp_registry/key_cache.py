"""API keys held in each process, checked on every request against a
generation number kept on Redis (issue 16).

Reading the key and its CSP from the database was one of the three SQL round
trips of every API request. A process now keeps each key it has read, with
the generation it saw *before* reading it; every request's rate-limit script
returns the current generation in the same round trip it already makes
(``ratelimits._TAKE``), and a request whose key was held under another
generation reads the key again and is judged again before its view does
anything (``CspApiMixin``). Any change to a CSP or an API key (saved,
updated, deleted, in bulk or not; but not a key's ``last_used_at``) draws a new
generation, at once and again when its transaction commits, so a suspension
or a revocation acts on the very next call, in every process, as before:

- a request that began before the change committed may still pass, as it
  could when the key was read from the database;
- a key read while the change was uncommitted was read under the older
  generation, so its first use after the commit reads it again.

Only on Redis: a cache local to each process (the quick start's) could not
tell one process of a change made in another, so there every request reads
the key from the database. If the change cannot reach Redis (it is down or
cut off), the change still commits; API requests are then refused with 503
while the workers cannot reach Redis either, and a process throws its keys
away when its rate-limit script fails. The one case left, a process that can
reach Redis holding a key changed by one that could not, lasts at most
``API_KEY_CACHE_SECONDS`` (the age at which a held key is read again
regardless; 0 turns the cache off).
"""

import logging
import secrets
import threading
import time
import weakref
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.db import transaction

logger = logging.getLogger(__name__)

GENERATION_KEY = "api-keys:generation"


def key_cache_enabled():
    return (
        settings.API_KEY_CACHE_SECONDS > 0
        and getattr(settings, "RATELIMIT_ENABLE", True)
        and isinstance(_cache(), RedisCache)
    )


def _cache():
    return caches[settings.RATELIMIT_USE_CACHE]


# One client per connection pool (a thread's cache has its own pools): Django
# builds a new client per call, and redis-py fills 169 reply callbacks into
# each, a tenth of a millisecond on every API request.
_clients = weakref.WeakKeyDictionary()


def redis_client(cache):
    pool = cache._cache._get_connection_pool(True)
    client = _clients.get(pool)
    if client is None:
        client = _clients[pool] = cache._cache.get_client(write=True)
    return client


def generation_key(cache):
    return cache.make_and_validate_key(GENERATION_KEY)


def generation_candidate():
    """A new generation, used only if Redis has none (it was restarted or
    flushed): random, so that it can never equal one a process still holds."""
    return secrets.token_hex(8)


# SET NX then GET: the generation, created if Redis has none.
_READ = "redis.call('SET', KEYS[1], ARGV[1], 'NX') return redis.call('GET', KEYS[1])"


def generation_read():
    """The current generation (one round trip), read before the key it will
    be held with. Errors propagate."""
    cache = _cache()
    client = redis_client(cache)
    value = client.eval(_READ, 1, generation_key(cache), generation_candidate())
    return value.decode() if isinstance(value, bytes) else value


def api_keys_changed():
    """Draw a new generation now and again when the current transaction
    commits: every process then reads its keys afresh. Never raises (the
    change it follows must not fail for it); a failure is logged."""
    if not key_cache_enabled():
        return
    _generation_draw()
    transaction.on_commit(_generation_draw, robust=True)


def _generation_draw():
    try:
        cache = _cache()
        redis_client(cache).set(generation_key(cache), generation_candidate())
    except Exception as exc:  # redis-py and socket errors share no base class
        logger.error(
            "API keys changed but Redis could not be told (%s): processes holding "
            "the changed keys keep them for at most API_KEY_CACHE_SECONDS",
            exc.__class__.__name__,
        )


@dataclass(frozen=True)
class HeldKey:
    api_key: object  # the ApiKey with its Csp, as read; never handed out itself
    generation: str
    read_at: float  # time.monotonic()


_held = {}  # prefix -> HeldKey
_lock = threading.Lock()


def held_key(prefix):
    held = _held.get(prefix)
    if held is None:
        return None
    if time.monotonic() - held.read_at >= settings.API_KEY_CACHE_SECONDS:
        key_forget(prefix)
        return None
    return held


def key_hold(prefix, api_key, generation):
    with _lock:
        _held[prefix] = HeldKey(api_key=api_key, generation=generation, read_at=time.monotonic())


def key_forget(prefix):
    with _lock:
        _held.pop(prefix, None)


def keys_forget_all():
    with _lock:
        _held.clear()
