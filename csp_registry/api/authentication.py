"""``Authorization: Bearer <api key>`` for the CSP API.

One query finds the key by its indexed prefix with its CSP joined. On Redis,
each process holds the keys it has read, checked on every request against a
generation number that the request's rate-limit script returns
(``csp_registry.key_cache``): a suspension or a revocation takes effect on the
very next call, as when every request read the key. Sets ``request.csp`` and
``request.auth`` (the ``ApiKey``).
"""

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from csp_registry import key_cache
from csp_registry.keys import split_key
from csp_registry.services import api_key_judge, api_key_read


class CspKeyAuthentication(BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = get_authorization_header(request).split()
        if not header:
            return None  # the permission answers 401 unauthenticated
        if len(header) != 2 or header[0].lower() != b"bearer":
            raise exceptions.AuthenticationFailed("Use the header Authorization: Bearer <api key>.")
        try:
            full_key = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("The API key is not valid.") from None
        prefix = split_key(full_key)
        # Recorded even when the key fails: monitoring sees which prefix was tried.
        request._request.api_key_prefix = prefix or ""
        found, request._request.api_key_generation = _key_read(prefix)
        # Nothing written yet: the key's use is recorded once the rate limits
        # let the request through (CspApiMixin.initial).
        api_key = api_key_judge(api_key=found, full_key=full_key, now=timezone.now())
        if api_key is None:
            raise exceptions.AuthenticationFailed("The API key is not valid, revoked or expired.")
        # On the Django request too, so middleware (the request log) sees them.
        request._request.csp = api_key.csp
        request._request.api_key = api_key
        return (None, api_key)

    def authenticate_header(self, request):
        # Makes DRF answer 401 (not 403) when the key is missing or wrong.
        return 'Bearer realm="api"'


def _key_read(prefix):
    """``(the key with this prefix or None, the generation it is held under or
    None)``: from this process's keys when it holds it, else from the database."""
    if prefix is None:
        return None, None
    if not key_cache.key_cache_enabled():
        return api_key_read(prefix), None
    held = key_cache.held_key(prefix)
    if held is not None:
        return held.api_key, held.generation
    try:
        # Before the read: a change committed after it draws another generation.
        generation = key_cache.generation_read()
    except Exception:  # redis-py and socket errors share no base class
        # The request's rate limits will answer 503; nothing is held meanwhile.
        return api_key_read(prefix), None
    api_key = api_key_read(prefix)
    if api_key is not None:
        # Only keys that exist: guessed prefixes fill no memory.
        key_cache.key_hold(prefix, api_key, generation)
    return api_key, generation


class CspKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = CspKeyAuthentication
    name = "cspApiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "smt_<prefix>_<secret>",
            "description": (
                "An API key issued by portal staff and shown once: "
                "`Authorization: Bearer smt_xxxxxxxx_…`."
            ),
        }
