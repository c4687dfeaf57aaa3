"""The contract's error format for every API error.

``{"error": {"code": "<snake_case>", "message": "<for humans>", "fields": {…}}}``

Views raise ``ApiError(status=…, code=…, message=…)`` (or any DRF exception);
``api_exception_handler`` turns it into that body. The middleware uses
``error_json_response`` for errors no DRF view handled (unknown URLs,
unhandled exceptions, an unreachable cache).
"""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, JsonResponse
from rest_framework import exceptions, serializers
from rest_framework.response import Response

# Attribute set on every error response so the request log records the code
# without parsing the body.
ERROR_CODE_ATTRIBUTE = "smt_error_code"


class ApiError(exceptions.APIException):
    """An error a view raises on purpose, with the code clients branch on."""

    def __init__(self, *, status, code, message, fields=None, headers=None):
        super().__init__(detail=message, code=code)
        self.status_code = status
        self.code = code
        self.message = message
        self.fields = fields or {}
        self.headers = headers or {}


MAX_BODY_BYTES = 1024 * 1024  # the contract's limit on a JSON body


def too_large():
    return ApiError(
        status=413,
        code="too_large",
        message=f"The body is larger than {MAX_BODY_BYTES} bytes (1 MiB).",
    )


def error_body(*, code, message, fields=None):
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


def error_response(*, status, code, message, fields=None, headers=None):
    """A DRF ``Response`` in the error format (for views that return rather than raise)."""
    response = Response(error_body(code=code, message=message, fields=fields), status=status)
    for name, value in (headers or {}).items():
        response[name] = value
    setattr(response, ERROR_CODE_ATTRIBUTE, code)
    return response


def error_json_response(*, status, code, message, headers=None):
    """The same body as a plain Django response, for code outside DRF."""
    response = JsonResponse(
        error_body(code=code, message=message),
        status=status,
        json_dumps_params={"separators": (",", ":")},
    )
    for name, value in (headers or {}).items():
        response[name] = value
    setattr(response, ERROR_CODE_ATTRIBUTE, code)
    return response


# DRF exception class → (code, message); the first match wins, so subclasses first.
_DRF_ERRORS = [
    (exceptions.ParseError, "invalid", None),
    (exceptions.NotAuthenticated, "unauthenticated", None),
    (exceptions.AuthenticationFailed, "unauthenticated", None),
    (exceptions.NotFound, "not_found", "Not found."),
    (exceptions.MethodNotAllowed, "method_not_allowed", None),
    (exceptions.NotAcceptable, "not_acceptable", None),
    (exceptions.UnsupportedMediaType, "unsupported_media_type", None),
    (exceptions.Throttled, "rate_limited", None),
]


def api_exception_handler(exc, context):
    """REST_FRAMEWORK["EXCEPTION_HANDLER"]: every DRF error in the contract's format.

    Returns ``None`` for exceptions that are not API errors, so DRF re-raises
    them and the middleware answers 500 in the same format (and logs them).
    """
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, RequestDataTooBig):
        exc = too_large()
    if not isinstance(exc, exceptions.APIException):
        return None
    response = error_response(
        status=exc.status_code, headers=_headers(exc), **_code_message_fields(exc)
    )
    return response


def _code_message_fields(exc):
    if isinstance(exc, ApiError):
        return {"code": exc.code, "message": exc.message, "fields": exc.fields}
    if isinstance(exc, exceptions.ValidationError):
        return {
            "code": "invalid",
            "message": "The request is invalid; see fields.",
            "fields": _fields(exc.detail),
        }
    for exc_class, code, message in _DRF_ERRORS:
        if isinstance(exc, exc_class):
            return {"code": code, "message": message or str(exc.detail)}
    # PermissionDenied subclasses and other APIExceptions carry their own code.
    detail_code = getattr(exc.detail, "code", None) or exc.default_code
    return {"code": str(detail_code), "message": str(exc.detail)}


def _fields(detail):
    if isinstance(detail, dict):
        return detail
    return {"non_field_errors": detail if isinstance(detail, list) else [detail]}


def _headers(exc):
    headers = dict(getattr(exc, "headers", {}) or {})
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
        headers["Retry-After"] = str(int(exc.wait))
    return headers


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="snake_case; clients branch on it.")
    message = serializers.CharField(help_text="For people; may change.")
    fields = serializers.DictField(
        child=serializers.JSONField(),
        help_text="For `invalid`: the messages for each field of the request.",
    )


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()
