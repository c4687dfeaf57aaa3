"""Faults the tests cause on purpose: a Redis that is down."""

# A Redis nothing listens on: refused at once, or given up on within 0.2 s.
NOT_LISTENING = "redis://127.0.0.1:1/0"
# The cache (rate limits, the API keys' generation) on that Redis.
CACHE_DOWN = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": NOT_LISTENING,
        "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
    }
}
