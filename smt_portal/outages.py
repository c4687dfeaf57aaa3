"""Answers for the moments a dependency is down: 503 and "try again", never 500.

PostgreSQL unreachable (a restart, a failover) or the Redis that holds the
rate limits and the challenge's replay store unreachable: nothing was done,
and the same request will work in a minute. The API says so in the
contract's error format (``csp_registry.api.middleware``); pages say so in
the customer's language (``server_error`` below, Django's 500 handler).
"""

import logging
import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, HttpResponseServerError
from django.template.loader import render_to_string
from django.views.decorators.csrf import requires_csrf_token

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 30


def is_outage(exception) -> bool:
    """A dependency could not be reached; the request may simply be retried."""
    if isinstance(exception, OperationalError | InterfaceError):
        return True
    try:
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.exceptions import TimeoutError as RedisTimeoutError
    except ImportError:  # pragma: no cover - redis is a dependency
        return False
    return isinstance(exception, RedisConnectionError | RedisTimeoutError)


@requires_csrf_token
def server_error(request):
    """Django's 500 handler: a dependency outage becomes a 503 "try again" page.

    Django calls it while handling the exception, so ``sys.exc_info()`` holds
    it. The page uses no context processor that could touch the database.
    """
    exception = sys.exc_info()[1]
    if exception is not None and is_outage(exception):
        logger.warning("outage during %s %s: %s", request.method, request.path,
                       type(exception).__name__)  # fmt: skip
        html = render_to_string("errors/unavailable.html")
        response = HttpResponse(html, status=503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    return HttpResponseServerError(render_to_string("errors/server_error.html"))
