"""The client's IP address, as far as the portal can trust it.

With ``TRUSTED_PROXY_COUNT = 0`` it is ``REMOTE_ADDR``: any forwarding header
was written by the client and is ignored. With N trusted proxies, each
appends the address it received the request from to ``X-Forwarded-For``, so
the client is the N-th entry from the right; entries further left were
written by the client and are ignored.
"""

import ipaddress

from django.conf import settings


def _forwarded_entries(request):
    header = request.META.get("HTTP_X_FORWARDED_FOR", "")
    return [entry.strip() for entry in header.split(",") if entry.strip()]


def client_ip(request):
    count = settings.TRUSTED_PROXY_COUNT
    remote_addr = request.META.get("REMOTE_ADDR") or "0.0.0.0"  # noqa: S104 - a placeholder, never bound
    if count == 0:
        return remote_addr
    entries = _forwarded_entries(request)
    if len(entries) < count:
        # Fewer entries than proxies: the deployment is not what the setting
        # says. The connection's own address is the only fact left.
        return remote_addr
    candidate = entries[-count]
    try:
        ipaddress.ip_address(candidate)
    except ValueError:
        return remote_addr
    return candidate


def forwarded_header_untrusted(request):
    """True when forwarding headers carry entries that no trusted proxy added."""
    count = settings.TRUSTED_PROXY_COUNT
    if count == 0 and ("HTTP_FORWARDED" in request.META or "HTTP_X_REAL_IP" in request.META):
        return True
    return len(_forwarded_entries(request)) > count


def ratelimit_ip_key(group, request):
    """A django-ratelimit key function: the trusted client IP."""
    return client_ip(request)
