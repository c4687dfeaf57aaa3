"""The API's JSON body limits (the contract's numbers).

- A body over ``MAX_BODY_BYTES`` (1 MiB) → 413 ``too_large``.
  ``body_size_check`` refuses it on its ``Content-Length`` before a byte is
  read (DRF reads the whole body into ``request.body`` before any parser
  runs; Django never reads past ``Content-Length``).
- Nesting deeper than ``MAX_DEPTH`` (64) → 400 ``invalid``. Python's decoder
  recurses once per level, so a ``[[[[…]]]]`` bomb raises ``RecursionError``
  (a 500); ``LimitedJSONParser`` therefore measures the depth on the raw text
  with regular expressions before the decoder runs.

A body sent without ``Content-Length`` (chunked) is never read: Django's WSGI
request gives it as empty, so the view sees no data (400 ``invalid``).
"""

import io
import re

from rest_framework.parsers import JSONParser

from .errors import MAX_BODY_BYTES, ApiError, too_large

MAX_DEPTH = 64

# A JSON string (escapes included), or any one bracket.
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_OPENING = re.compile(rb"[\[{]")
_BRACKETS = re.compile(rb"[\[\]{}]")


def body_size_check(request):
    """Refuse (413) a request whose declared body is over the limit, unread."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > MAX_BODY_BYTES:
        raise too_large()


class LimitedJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        raw = stream.read(MAX_BODY_BYTES + 1) if stream is not None else b""
        if len(raw) > MAX_BODY_BYTES:
            raise too_large()
        if _depth_exceeds(raw, MAX_DEPTH):
            raise ApiError(
                status=400,
                code="invalid",
                message=f"The JSON body is nested more than {MAX_DEPTH} levels deep.",
            )
        return super().parse(io.BytesIO(raw), media_type, parser_context)


def _depth_exceeds(raw, limit):
    """True when brackets outside strings nest deeper than ``limit``.

    Most bodies have fewer opening brackets than the limit and are not scanned.
    Malformed text (an unterminated string) is left to the decoder to refuse.
    """
    if len(_OPENING.findall(raw)) <= limit:
        return False
    depth = 0
    for bracket in _BRACKETS.findall(_STRING.sub(b"", raw)):
        if bracket in b"[{":
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False
