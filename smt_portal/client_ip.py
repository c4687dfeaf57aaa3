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


# One IPv6 customer line is a /64 (RFC 6177): its owner picks any of its 2**64
# addresses at will, so limits that key on the full address do not limit it.
IPV6_SOURCE_PREFIX = 64


def ip_source(ip):
    """The network that one client controls: an IPv4 address, or an IPv6 /64.

    ``"2001:db8:1:2::7"`` → ``"2001:db8:1:2::/64"``; ``"198.51.100.7"`` (or its
    IPv4-mapped IPv6 form) → ``"198.51.100.7"``. Anything unparseable is returned
    as it is.
    """
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if address.version == 6 and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    if address.version == 4:
        return str(address)
    return str(ipaddress.ip_network(f"{address}/{IPV6_SOURCE_PREFIX}", strict=False))


def ratelimit_ip_key(group, request):
    """A django-ratelimit key function: the trusted client's source (IPv4, IPv6 /64)."""
    return ip_source(client_ip(request))
