"""``Authorization: Bearer <api key>`` for the CSP API.

One query finds the key by its indexed prefix with its CSP joined, so the
CSP's status is as fresh as the request: a suspension takes effect on the
very next call. Sets ``request.csp`` and ``request.auth`` (the ``ApiKey``).
"""

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from csp_registry.keys import split_key
from csp_registry.services import api_key_authenticate


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
        # Recorded even when the key fails: monitoring sees which prefix was tried.
        request._request.api_key_prefix = split_key(full_key) or ""
        # Nothing written yet: the key's use is recorded once the rate limits
        # let the request through (CspApiMixin.initial).
        api_key = api_key_authenticate(full_key=full_key, now=timezone.now(), record_use=False)
        if api_key is None:
            raise exceptions.AuthenticationFailed("The API key is not valid, revoked or expired.")
        # On the Django request too, so middleware (the request log) sees them.
        request._request.csp = api_key.csp
        request._request.api_key = api_key
        return (None, api_key)

    def authenticate_header(self, request):
        # Makes DRF answer 401 (not 403) when the key is missing or wrong.
        return 'Bearer realm="api"'


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
