"""OpenAPI generation: the conventions every CSP API view shares, documented once.

Set as REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"]. For views built on
``CspApiMixin`` it adds the error responses (in the contract's format) that
any such view can give, and the ``Idempotency-Key`` header on POSTs.
"""

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import is_list_serializer
from drf_spectacular.utils import OpenApiResponse

from . import idempotency
from .base import CspApiMixin
from .errors import ErrorSerializer

_COMMON_ERRORS = {
    "400": (
        "`invalid`: a malformed body or parameter; `fields` says which. A JSON body "
        "nested more than 64 levels deep is refused whole."
    ),
    "401": "`unauthenticated`: no API key, or one that is wrong, revoked or expired.",
    "403": (
        "`csp_not_active`: the provider is pending review, suspended or revoked; "
        "`ip_not_registered`: the call comes from outside the provider's registered ranges; "
        "`csp_profile_incomplete` (starting a request): the provider's statement of how it "
        "will use the data is missing in English or Spanish until staff add it."
    ),
    "406": "`not_acceptable`: the client does not accept JSON.",
    "429": (
        "`rate_limited`: too many requests, or more premises than the premise-check "
        "budget has left (nothing was checked); see the Retry-After header."
    ),
    "500": "`server_error`: a fault on the portal's side; it was logged.",
    "503": "`service_unavailable`: briefly unavailable; nothing was done, retry.",
}
_POST_ERRORS = {
    "413": "`too_large`: the body is over 1 MiB.",
    "415": "`unsupported_media_type`: the body is not JSON.",
    "422": "`idempotency_key_reused`: this Idempotency-Key came with a different request.",
}
_NOT_FOUND = {"404": "`not_found`: no such object for this provider, or an invalid page cursor."}


class CspAutoSchema(AutoSchema):
    def _is_csp_api(self):
        return isinstance(self.view, CspApiMixin)

    def get_override_parameters(self):
        parameters = list(super().get_override_parameters())
        if self._is_csp_api() and self.method == "POST":
            parameters.append(idempotency.PARAMETER)
        return parameters

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if not self._is_csp_api() or direction != "response":
            return responses
        for code, description in self._error_descriptions().items():
            if code not in responses:
                responses[code] = self._get_response_for_code(
                    OpenApiResponse(ErrorSerializer, description=description), code
                )
        return responses

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        # A nested list's min_length / max_length (e.g. an agreement's 1 to 200
        # premises) as minItems / maxItems, which drf-spectacular leaves out.
        if schema is not None and is_list_serializer(field) and schema.get("type") == "array":
            if field.min_length is not None:
                schema.setdefault("minItems", field.min_length)
            if field.max_length is not None:
                schema.setdefault("maxItems", field.max_length)
        return schema

    def _error_descriptions(self):
        errors = dict(_COMMON_ERRORS)
        if self.method == "POST":
            errors.update(_POST_ERRORS)
        if "{" in self.path or self.method == "GET":
            errors.update(_NOT_FOUND)
        return errors


def only_api_paths(endpoints, **kwargs):
    """PREPROCESSING_HOOKS: the document describes /api/v1/ only, not other DRF views."""
    return [endpoint for endpoint in endpoints if endpoint[0].startswith("/api/v1/")]
