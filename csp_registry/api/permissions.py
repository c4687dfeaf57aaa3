"""Who may call the CSP API: an active CSP, from its registered ranges if it has any."""

import functools
import ipaddress

from rest_framework import exceptions
from rest_framework.permissions import BasePermission

from csp_registry.models import CspStatus, parse_ip_ranges
from smt_portal.client_ip import client_ip


class CspNotActive(exceptions.PermissionDenied):
    default_code = "csp_not_active"


class IpNotRegistered(exceptions.PermissionDenied):
    default_code = "ip_not_registered"


class IsActiveCsp(BasePermission):
    """403 ``csp_not_active`` for a pending, suspended or revoked CSP; 401 without a key."""

    def has_permission(self, request, view):
        csp = getattr(request, "csp", None)
        if csp is None:
            return False  # DRF turns this into 401, since no key authenticated
        if csp.status != CspStatus.ACTIVE:
            raise CspNotActive(
                f"This provider is {CspStatus(csp.status).label.lower()}; "
                "the API accepts calls only from active providers."
            )
        return True


@functools.lru_cache(maxsize=1024)
def _networks(ranges_text):
    # Parsed once per distinct text, not once per request.
    return tuple(parse_ip_ranges(ranges_text))


class FromRegisteredIpRange(BasePermission):
    """When a CSP registered source ranges, calls from elsewhere are refused (red flag c).

    The refusal is recorded by the request log with the code
    ``ip_not_registered``, which the monitoring app counts.
    """

    def has_permission(self, request, view):
        csp = getattr(request, "csp", None)
        if csp is None or not csp.registered_ip_ranges.strip():
            return True
        address = _address(client_ip(request))
        if address is not None and any(
            address in net for net in _networks(csp.registered_ip_ranges)
        ):
            return True
        raise IpNotRegistered(
            "This call comes from an address outside the provider's registered IP ranges."
        )


def _address(text):
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None
