"""The agreement's API representation written in SQL, for set-based events (issue 16).

A sweep moves up to a million agreements; each owes one CSP event whose
``data`` is ``{"agreement": <the API's representation>}``. Building those in
Python (load, serialize, bind each JSON literal) cost ~90 % of a sweep. On
PostgreSQL the events are instead written by one ``INSERT … SELECT
jsonb_build_object(…)`` per chunk, straight from the rows the UPDATE changed.

This file is the SQL twin of ``affirmations.api.serializers.agreement_output``:
a test (tests/affirmations/test_event_sql.py) holds the two equal, key for
key and value for value, for every shape of agreement — change one, change
the other. Keys come out in ``jsonb``'s own order, as do the Python payloads
once stored (the column is ``jsonb``), so readers see no difference.
"""

import json

from django.db import connection
from django.utils import timezone

from .delivery import DELIVERY_OF_STATUS, REQUEST_KINDS
from .models import OPEN_STATUSES, AgreementStatus
from .rules import OCCUPANT_CHANGED


def _iso(column: str) -> str:
    """DRF's ``DateTimeField`` output: ISO 8601 in the current time zone,
    microseconds only when there are some, ``Z`` for UTC."""
    local = f"({column} AT TIME ZONE %(tz)s)"
    offset = f"extract(epoch FROM {local} - ({column} AT TIME ZONE 'UTC'))::int"
    return (
        f"CASE WHEN {column} IS NULL THEN NULL ELSE "
        f"to_char({local}, 'YYYY-MM-DD\"T\"HH24:MI:SS')"
        f" || CASE WHEN date_trunc('second', {column}) = {column} THEN ''"
        f" ELSE to_char({local}, '.US') END"
        f" || CASE WHEN {offset} = 0 THEN 'Z' ELSE"
        f" (CASE WHEN {offset} < 0 THEN '-' ELSE '+' END)"
        f" || lpad((abs({offset}) / 3600)::text, 2, '0') || ':'"
        f" || lpad((mod(abs({offset}), 3600) / 60)::text, 2, '0') END END"
    )


def _quote(value: str) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def _in(values) -> str:
    return "(" + ", ".join(_quote(v) for v in values) + ")"


_MASKED_EMAIL = (
    # ``mask_email``: first character, ``***@`` and the domain after the last ``@``.
    "CASE WHEN coalesce(a.customer_email, '') ~ '^.+@'"
    " THEN left(a.customer_email, 1) || '***@' || substring(a.customer_email FROM '@([^@]*)$')"
    " ELSE '***' END"
)

_ENDED_REASON = (
    f"CASE WHEN a.status IN {_in(OPEN_STATUSES)} THEN NULL"
    f" WHEN a.end_reason = {_quote(OCCUPANT_CHANGED)} THEN {_quote(OCCUPANT_CHANGED)}"
    f" WHEN a.status IN {_in([AgreementStatus.TERMINATED, AgreementStatus.REVOKED])}"
    " THEN coalesce(nullif(a.ended_by, ''), a.status)"
    " ELSE a.status END"
)

_EMAIL_STATUS = (
    "coalesce((SELECT CASE e.status "  # noqa: S608 (constants of this module only)
    + " ".join(f"WHEN {_quote(k)} THEN {_quote(v)}" for k, v in DELIVERY_OF_STATUS.items())
    + " END FROM outbox_outboundemail e"
    f" WHERE e.kind IN {_in(REQUEST_KINDS)} AND e.related_label = 'agreement:' || a.id"
    " ORDER BY e.id DESC LIMIT 1), 'queued')"
)

_PREMISES = (
    "coalesce((SELECT jsonb_agg(jsonb_build_object("
    "'esi_id', p.esi_id, 'large_commercial', p.large_commercial) ORDER BY p.id)"
    " FROM affirmations_agreementpremise p WHERE p.agreement_id = a.id), '[]'::jsonb)"
)

_RENEWALS = (
    "coalesce((SELECT jsonb_agg(jsonb_build_object("  # noqa: S608
    "'id', r.id, 'kind', r.kind, 'status', r.status, 'term_months', r.term_months,"
    f" 'requested_at', {_iso('r.requested_at')}, 'expires_at', {_iso('r.expires_at')},"
    f" 'decided_at', {_iso('r.decided_at')}, 'new_term_end', {_iso('r.new_term_end')}"
    ") ORDER BY r.id) FROM affirmations_renewal r WHERE r.agreement_id = a.id), '[]'::jsonb)"
)

# Key → SQL expression over ``affirmations_agreement a``: ``agreement_output``'s keys, in its order.
AGREEMENT_COLUMNS = {
    "id": "a.id",
    "status": "a.status",
    "premises": _PREMISES,
    "term_months": "a.term_months",
    "max_term_months": "a.max_term_months",
    "customer_email_masked": _MASKED_EMAIL,
    "language": "a.language",
    "confirmation_code": "a.confirmation_code",
    "created_at": _iso("a.created_at"),
    "affirmation_expires_at": _iso("a.affirmation_expires_at"),
    "reminder_sent_at": _iso("a.reminder_sent_at"),
    "affirmed_at": _iso("a.affirmed_at"),
    "term_start": _iso("a.term_start"),
    "term_end": _iso("a.term_end"),
    "ended_at": _iso("a.ended_at"),
    "ended_by": "a.ended_by",
    "end_reason": "a.end_reason",
    "ended_reason": _ENDED_REASON,
    "renewals": _RENEWALS,
    "affirmation_email_status": _EMAIL_STATUS,
}

AGREEMENT_JSON = (
    "jsonb_build_object("
    + ", ".join(f"{_quote(key)}, {expression}" for key, expression in AGREEMENT_COLUMNS.items())
    + ")"
)


def agreement_events_select(*, agreement_ids=None, event_type, where=None) -> tuple[str, dict]:
    """A SELECT of one event row per agreement (``csp_id, type, agreement_id,
    sandbox, data``) and its named parameters, for ``events_emit_select``.

    The agreements are ``agreement_ids``, or those meeting ``where`` (SQL over
    ``a``, its parameters the caller's: the sweeps' bench floor)."""
    sql = (
        "SELECT a.csp_id, %(event_type)s AS type, a.id AS agreement_id, a.sandbox,"  # noqa: S608
        f" jsonb_build_object('agreement', {AGREEMENT_JSON}) AS data"
        " FROM affirmations_agreement a"
        f" WHERE {'a.id = ANY(%(agreement_ids)s)' if where is None else where}"
    )
    params = {"event_type": str(event_type), "tz": timezone.get_current_timezone_name()}
    if where is None:
        params["agreement_ids"] = list(agreement_ids)
    return sql, params


def agreements_json(agreement_ids) -> dict[int, dict]:
    """The representation of each agreement as the SQL builds it (for tests and checks)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT a.id, {AGREEMENT_JSON} FROM affirmations_agreement a"  # noqa: S608
            " WHERE a.id = ANY(%(agreement_ids)s)",
            {"agreement_ids": list(agreement_ids), "tz": timezone.get_current_timezone_name()},
        )
        rows = cursor.fetchall()
    return {pk: json.loads(data) if isinstance(data, str) else data for pk, data in rows}
