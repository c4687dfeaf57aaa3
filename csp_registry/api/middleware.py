"""Conventions for every request under /api/, whatever view (or none) answers it.

- Errors are always JSON in the contract's format: an unknown URL's 404, an
  unhandled exception's 500 (logged, never shown), an unreachable cache's 503.
- One ``ApiRequestLog`` row per request, for monitoring, written with the rows
  the request queued (``smt_portal.request_writes``) in one round trip.

Register it first in MIDDLEWARE so it sees every response, including those of
other middleware.
"""

import logging
import time

from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError
from django.utils import timezone

from csp_registry.models import ApiRequestLog
from smt_portal.client_ip import client_ip, forwarded_header_untrusted
from smt_portal.outages import is_outage
from smt_portal.prepared_sql import PreparedInsert
from smt_portal.request_writes import request_writes_collected, request_writes_flush

from .errors import ERROR_CODE_ATTRIBUTE, error_json_response

logger = logging.getLogger(__name__)

API_PREFIX = "/api/"

_CODES_BY_STATUS = {
    400: "invalid",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    429: "rate_limited",
    500: "server_error",
    503: "service_unavailable",
}
_KEPT_HEADERS = ("Allow", "Retry-After", "WWW-Authenticate")


class ApiConventionsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path.startswith(API_PREFIX):
            return self.get_response(request)
        started = time.monotonic()
        with request_writes_collected() as queued:
            response = _as_json_error(self.get_response(request))
            return _record(request, response, queued, duration=time.monotonic() - started)

    def process_exception(self, request, exception):
        if not request.path.startswith(API_PREFIX):
            return None
        if isinstance(exception, RequestDataTooBig):
            return error_json_response(
                status=413, code="too_large", message="The body is larger than 1 MiB."
            )
        if is_outage(exception):  # the database or the cache: nothing done, retry
            logger.warning(
                "%s during %s %s", type(exception).__name__, request.method, request.path
            )
            return _unavailable()
        logger.exception("unhandled error in %s %s", request.method, request.path)
        return error_json_response(
            status=500,
            code="server_error",
            message="Something went wrong on our side; it has been logged.",
        )


def _as_json_error(response):
    """Replace an HTML or empty error page by the JSON error format."""
    if response.status_code < 400 or hasattr(response, ERROR_CODE_ATTRIBUTE):
        return response
    if response.get("Content-Type", "").startswith("application/json"):
        return response
    status = response.status_code
    replacement = error_json_response(
        status=status,
        code=_CODES_BY_STATUS.get(status, "error"),
        message=response.reason_phrase,
        headers={name: response[name] for name in _KEPT_HEADERS if response.has_header(name)},
    )
    return replacement


def _route(request):
    """The matched endpoint's name and the agreement id its route names, if any."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        return "", None
    agreement_id = match.kwargs.get("agreement_id")
    if not isinstance(agreement_id, int) or not 0 < agreement_id < 2**63:
        agreement_id = None  # no agreement has that id; the column is a bigint
    return (match.url_name or "")[:64], agreement_id


_LOG_INSERT = PreparedInsert(ApiRequestLog)


def _record(request, response, queued, *, duration):
    """Write the request's log row with the rows it queued (one round trip);
    the response, or a 503 if queued rows could not be written."""
    csp = getattr(request, "csp", None)
    endpoint, agreement_id = _route(request)
    log_row = {
        "csp_id": csp.pk if csp is not None else None,
        "key_prefix": getattr(request, "api_key_prefix", ""),
        "ip": client_ip(request),
        "forwarded_header_untrusted": forwarded_header_untrusted(request),
        "method": request.method[:10],
        "path": request.path[:300],
        "status_code": response.status_code,
        "error_code": getattr(response, ERROR_CODE_ATTRIBUTE, ""),
        "endpoint": endpoint,
        "agreement_id": agreement_id,
        "duration_ms": int(duration * 1000),
        "sandbox": getattr(getattr(request, "api_key", None), "sandbox", False),
        "created_at": timezone.now(),
    }
    owed = len(queued)
    try:
        request_writes_flush(queued, last=[(_LOG_INSERT, log_row)])
    except DatabaseError:
        if owed:
            # What the answer reports (an attempt) is not on record: no answer.
            logger.warning("could not record %s %s: answered 503", request.method, request.path)
            return _unavailable()
        # The answer is already decided; losing one log row beats failing it.
        logger.warning("could not record API request %s %s", request.method, request.path)
    return response


def _unavailable():
    return error_json_response(
        status=503,
        code="service_unavailable",
        message="The service is briefly unavailable; please retry.",
        headers={"Retry-After": "30"},
    )
