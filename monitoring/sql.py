"""SQL expressions the detectors group and join by, for PostgreSQL and SQLite.

PostgreSQL does the work with its ``inet`` functions.
SQLite (a laptop, the tests) has none of those, so the same expressions call
small deterministic Python functions registered on each SQLite connection
(``register_sqlite_functions``, connected in ``MonitoringConfig.ready``). The
queries stay set-based on both: one statement, grouped in the database.
"""

import ipaddress

from django.db import models

# Neighbourhoods of addresses that one operator typically controls.
IPV4_PREFIX = 24
IPV6_PREFIX = 48


def _ip_network(ip):
    if not ip:
        return None
    address = ipaddress.ip_address(ip)
    prefix = IPV4_PREFIX if address.version == 4 else IPV6_PREFIX
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


def _ip_in_ranges(ip, ranges_text):
    """Raises on a range not in the stored (canonical) form, as PostgreSQL's
    ``::inet[]`` cast raises: the model only stores canonical ranges, so one
    that is not was written behind its back, and the detector's run fails
    loudly (recorded, on the dashboard and ``/healthz``) rather than silently
    missing that CSP's opt-ins."""
    if not ip or not (ranges_text or "").strip():
        return 0
    address = ipaddress.ip_address(ip)
    found = 0
    for token in ranges_text.replace(",", "\n").split():
        network = ipaddress.ip_network(token, strict=False)  # ValueError, like the cast
        if "%" in token or str(network) != token:
            raise ValueError(f"IP range {token[:60]!r} is not in canonical form")
        found = found or int(address.version == network.version and address in network)
    return found


def register_sqlite_functions(sender, connection, **kwargs):
    """``connection_created`` receiver: the functions below, on SQLite only."""
    if connection.vendor != "sqlite":
        return
    connection.connection.create_function("smt_ip_network", 1, _ip_network, deterministic=True)
    connection.connection.create_function("smt_ip_in_ranges", 2, _ip_in_ranges, deterministic=True)


class IpNetwork(models.Func):
    """The /24 (IPv4) or /48 (IPv6) network of an address, as text ("203.0.113.0/24")."""

    output_field = models.CharField()

    def as_postgresql(self, compiler, connection, **extra_context):
        sql, params = compiler.compile(self.source_expressions[0])
        template = (
            f"network(set_masklen({sql}, CASE WHEN family({sql}) = 4 "
            f"THEN {IPV4_PREFIX} ELSE {IPV6_PREFIX} END))::text"
        )
        return template, [*params, *params]

    def as_sqlite(self, compiler, connection, **extra_context):
        return self.as_sql(compiler, connection, function="smt_ip_network", **extra_context)


class IpInRanges(models.Func):
    """True when the address lies in one of the CIDR ranges of a registration text."""

    output_field = models.BooleanField()

    def as_postgresql(self, compiler, connection, **extra_context):
        ip_sql, ip_params = compiler.compile(self.source_expressions[0])
        ranges_sql, ranges_params = compiler.compile(self.source_expressions[1])
        trimmed = f"btrim({ranges_sql}, E' \\t\\r\\n,')"
        template = (
            f"(CASE WHEN {trimmed} = '' THEN false ELSE {ip_sql} <<= ANY("
            f"regexp_split_to_array({trimmed}, E'[\\\\s,]+')::inet[]) END)"
        )
        return template, [*ranges_params, *ip_params, *ranges_params]

    def as_sqlite(self, compiler, connection, **extra_context):
        return self.as_sql(compiler, connection, function="smt_ip_in_ranges", **extra_context)
