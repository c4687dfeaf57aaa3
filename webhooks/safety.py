"""Where the portal may send a webhook: public ``https://`` addresses only.

Checked twice. When an endpoint is saved (``url_check``): the form of the URL.
When each attempt is made (``resolve_vetted``): every address the host name
resolves to *then*, so a name that pointed at a public address when it was
registered and points inside later (DNS rebinding) is refused; the sender
connects to the vetted address itself and never resolves the name again.

``WEBHOOKS_ALLOW_INSECURE_LOCAL`` (DEBUG and tests only) admits loopback
addresses, and ``http://`` to them, so a receiver on the same machine works.
"""

import ipaddress
import re
import socket
from urllib.parse import SplitResult, urlsplit

from django.conf import settings

MAX_URL_LENGTH = 2000
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_TOP_LEVEL = re.compile(r"^[a-z][a-z0-9-]{1,62}$")  # never all digits: "127.1" is an address
# Cloud metadata services, named for the message (both are refused as
# link-local and unique-local ranges anyway).
_METADATA = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_LOCAL_NAMES = ("localhost", "localhost.localdomain")


class UnsafeUrl(Exception):
    """The URL or an address it resolves to is not one the portal sends to."""


def local_allowed() -> bool:
    return bool(getattr(settings, "WEBHOOKS_ALLOW_INSECURE_LOCAL", False))


def url_check(url: str) -> SplitResult:
    """The parts of an acceptable endpoint URL, or ``UnsafeUrl`` saying why not."""
    if not isinstance(url, str) or not url or len(url) > MAX_URL_LENGTH:
        raise UnsafeUrl(f"Give a URL of at most {MAX_URL_LENGTH} characters.")
    if not url.isascii() or not url.isprintable() or " " in url:
        raise UnsafeUrl("Write the URL in ASCII (punycode for international names), no spaces.")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- raises ValueError on a bad port
    except ValueError:
        raise UnsafeUrl("This is not a valid URL.") from None
    if parts.username is not None or parts.password is not None:
        raise UnsafeUrl("A URL with a user name or password is refused; authenticate "
                        "requests by their signature.")  # fmt: skip
    if parts.fragment or "#" in url:
        raise UnsafeUrl("A URL with a fragment (#…) is refused.")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise UnsafeUrl("The URL has no host.")
    local = _is_local_host(host)
    if parts.scheme != "https" and not (parts.scheme == "http" and local and local_allowed()):
        raise UnsafeUrl("Endpoint URLs must start with https://.")
    if local and local_allowed():
        return parts
    _check_host_form(host)
    return parts


def _is_local_host(host):
    if host in _LOCAL_NAMES or host.endswith(".localhost"):
        return True
    address = _literal(host)
    return address is not None and address.is_loopback


def _literal(host):
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _check_host_form(host):
    address = _literal(host)
    if address is not None:
        reason = address_refusal(address)
        if reason:
            raise UnsafeUrl(f"{host} is {reason}; only public addresses receive webhooks.")
        return
    labels = host.split(".")
    if (
        len(host) > 253
        or len(labels) < 2
        or not all(_LABEL.match(label) for label in labels)
        or not _TOP_LEVEL.match(labels[-1])
    ):
        raise UnsafeUrl(f"{host[:100]!r} is not a public host name.")
    if host.endswith((".localhost", ".local", ".internal", ".home.arpa")):
        raise UnsafeUrl(f"{host[:100]} is a local name; only public hosts receive webhooks.")
    if host in _LOCAL_NAMES:
        raise UnsafeUrl(f"{host} is a local name; only public hosts receive webhooks.")


def _embedded(address):
    """Any IPv4 address an IPv6 one carries (mapped, 6to4, Teredo, NAT64), then the address."""
    found = []
    if address.version == 6:
        found += [a for a in (address.ipv4_mapped, address.sixtofour) if a is not None]
        if address.teredo:
            found += list(address.teredo)
        if address in _NAT64:
            found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return [*found, address]


def address_refusal(address) -> str | None:
    """Why the portal does not send to this address, or None when it may."""
    for each in _embedded(address):
        if each.is_loopback and local_allowed():
            continue
        if each in _METADATA:
            return "a cloud metadata address"
        for test, reason in (
            (each.is_loopback, "a loopback address"),
            (each.is_link_local, "a link-local address"),
            (each.is_unspecified, "an unspecified address"),
            (each.is_multicast, "a multicast address"),
            (each.is_reserved, "a reserved address"),
            (each.is_private, "a private address"),
            (not each.is_global, "not a public address"),
        ):
            if test:
                return reason
    return None


def resolve_vetted(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to now, if all may receive; else ``UnsafeUrl``.

    All, not some: a name that answers a public and a private address would
    otherwise reach inside whenever the resolver put the private one first.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise UnsafeUrl(f"{host} does not resolve ({type(exc).__name__}).") from None
    addresses = []
    for _family, _type, _proto, _name, sockaddr in infos:
        text = sockaddr[0].split("%", 1)[0]  # an IPv6 zone id names a local interface
        address = ipaddress.ip_address(text)
        reason = address_refusal(address)
        if reason:
            raise UnsafeUrl(f"{host} resolves to {reason}; the portal does not send there.")
        if text not in addresses:
            addresses.append(text)
    if not addresses:
        raise UnsafeUrl(f"{host} does not resolve.")
    return addresses
