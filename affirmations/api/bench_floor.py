"""The agreement benchmark's floor: the same essential writes as ``POST /api/v1/agreements/``,
with nothing else (bench/bench_agreements.py; issue 16).

Mounted only with BENCH_FLOOR_ENDPOINT=1 (affirmations/urls.py), outside /api/
so no convention (DRF, rate limits, the request log middleware) adds to it. A
plain Django view doing bare SQL on one connection:

- the key: one indexed SELECT by prefix, its SHA-256 compared;
- each premise: one indexed SELECT joining its active meter and REP (the
  authentication), in one statement for all of them;
- one transaction: the authentication attempts, the agreement, its premises,
  the link token, the outbox email, the API request log row, and the two
  chained records (its chain's head locked, read and moved, as any chain needs).

What it leaves out is what the portal adds around these writes: DRF's parsing
and serializers, rate limits, idempotency, the term and duplicate and cooldown
rules, template rendering of the email, the response's re-read, the email's
publish to the broker after commit. Never mounted in production.
"""

import hashlib
import json
import secrets
from datetime import timedelta

from django.db import connection, transaction
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from csp_registry.keys import key_matches, split_key

from ..records import RECORD_CHAINS

_AUTHENTICATE = """
    SELECT p.id, p.esi_id, p.service_address, m.number, r.certificate_number
    FROM premises_premise p
    JOIN premises_meter m ON m.premise_id = p.id AND m.removed_on IS NULL
    JOIN premises_retailelectricprovider r ON r.id = p.rep_of_record_id
    WHERE p.esi_id = ANY(%s) AND NOT p.sandbox
"""


@csrf_exempt
@require_POST
def bench_floor_agreement(request):
    now = timezone.now()
    body = json.loads(request.body)
    premises = body["premises"]
    key = request.headers.get("Authorization", "").removeprefix("Bearer ")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT csp_id, hashed_key, prefix FROM csp_registry_apikey"
            " WHERE prefix = %s AND revoked_at IS NULL",
            [split_key(key)],
        )
        row = cursor.fetchone()
        if row is None or not key_matches(key, row[1]):
            return JsonResponse({"error": "key"}, status=401)
        csp_id, _, prefix = row
        cursor.execute(_AUTHENTICATE, [[p["esi_id"] for p in premises]])
        found = {row[1]: row for row in cursor.fetchall()}
        if not all(
            p["esi_id"] in found
            and found[p["esi_id"]][3:] == (p["meter_number"], p["rep_certificate_number"])
            for p in premises
        ):
            return JsonResponse({"error": "authentication"}, status=422)
        agreement_id = _write(cursor, body, premises, found, csp_id, prefix, now)
    return JsonResponse({"id": agreement_id, "status": "pending_affirmation"}, status=201)


def _write(cursor, body, premises, found, csp_id, prefix, now):
    ip = "127.0.0.1"
    expires = now + timedelta(days=7)
    with transaction.atomic():
        for p in premises:
            cursor.execute(
                "INSERT INTO monitoring_premiseauthenticationattempt (created_at, csp_id, ip,"
                " esi_id, meter_number, rep_certificate_number, authenticated, failure_reason,"
                " premise_id) VALUES (%s, %s, %s, %s, %s, %s, true, '', %s)",
                [now, csp_id, ip, p["esi_id"], p["meter_number"], p["rep_certificate_number"],
                 found[p["esi_id"]][0]],
            )  # fmt: skip
        code = secrets.token_hex(4).upper()
        cursor.execute(
            "INSERT INTO affirmations_agreement (csp_id, status, customer_email, language,"
            " term_months, max_term_months, renewal_window_days, confirmation_code, sandbox,"
            " created_at, affirmation_sent_at, affirmation_expires_at, renewal_count, ended_by,"
            " end_reason) VALUES (%s, 'pending_affirmation', %s, 'en', %s, 12, 60, %s, false,"
            " %s, %s, %s, 0, '', '') RETURNING id",
            [csp_id, body["customer_email"], body["term_months"], code, now, now, expires],
        )
        agreement_id = cursor.fetchone()[0]
        for p in premises:
            pk, _, address = found[p["esi_id"]][:3]
            cursor.execute(
                "INSERT INTO affirmations_agreementpremise (agreement_id, premise_id, csp_id,"
                " esi_id, service_address, large_commercial, is_open)"
                " VALUES (%s, %s, %s, %s, %s, false, true)",
                [agreement_id, pk, csp_id, p["esi_id"], address],
            )
        token_hash = hashlib.sha256(secrets.token_urlsafe(32).encode()).hexdigest()
        cursor.execute(
            "INSERT INTO affirmations_agreementlink (agreement_id, purpose, token_hash,"
            " created_at, expires_at) VALUES (%s, 'affirmation', %s, %s, %s)",
            [agreement_id, token_hash, now, expires],
        )
        text = f"Code {code}: open the link to answer. " * 20
        cursor.execute(
            "INSERT INTO outbox_outboundemail (kind, language, to_address, subject, body_text,"
            " body_html, status, attempts, next_attempt_at, deliver_until, claim_token,"
            " last_error, created_at, related_label) VALUES ('affirmation_request', 'en', %s,"
            " %s, %s, %s, 'pending', 0, %s, %s, '', '', %s, %s) RETURNING id",
            [body["customer_email"], f"Do you agree? Code {code}", text, f"<p>{text}</p>",
             now, now + timedelta(days=2), now, f"agreement:{agreement_id}"],
        )  # fmt: skip
        email_id = cursor.fetchone()[0]
        _records(cursor, csp_id, agreement_id, email_id, prefix, now)
        cursor.execute(
            "INSERT INTO csp_registry_apirequestlog (csp_id, key_prefix, ip,"
            " forwarded_header_untrusted, method, path, status_code, error_code, endpoint,"
            " duration_ms, sandbox, created_at) VALUES (%s, %s, %s, false, 'POST',"
            " '/csp/bench-floor/agreements/', 201, '', 'bench-floor', 0, false, %s)",
            [csp_id, prefix, ip, now],
        )
    return agreement_id


def _records(cursor, csp_id, agreement_id, email_id, prefix, now):
    """Two chained rows on the CSP's chain: lock its head, hash, insert, move the head."""
    chain = csp_id % RECORD_CHAINS
    cursor.execute(
        "SELECT last_seq, last_hash FROM affirmations_recordchainhead WHERE chain = %s FOR UPDATE",
        [chain],
    )
    head = cursor.fetchone()
    if head is None:  # the chain's first record
        cursor.execute(
            "INSERT INTO affirmations_recordchainhead (chain, last_seq, last_hash)"
            " VALUES (%s, 0, %s) ON CONFLICT DO NOTHING",
            [chain, "0" * 64],
        )
        return _records(cursor, csp_id, agreement_id, email_id, prefix, now)
    seq, previous = head
    rows = []
    for event, details in (
        ("request_created", {"from_status": "", "to_status": "pending_affirmation"}),
        ("email_queued", {"kind": "affirmation_request", "email_id": email_id}),
    ):
        seq += 1
        content = {
            "created_at": now.isoformat(), "event": event, "agreement": agreement_id,
            "csp": csp_id, "actor": prefix, "details": details, "previous_hash": previous,
            "chain": chain, "seq": seq,
        }  # fmt: skip
        digest = hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()
        rows += [now, event, agreement_id, csp_id, "csp", prefix, "127.0.0.1", "",
                 json.dumps(details), previous, digest, chain, seq]  # fmt: skip
        previous = digest
    cursor.execute(
        "INSERT INTO affirmations_record (created_at, event, agreement_id, csp_id, actor_type,"
        " actor, ip, user_agent, details, previous_hash, hash, chain, seq, hash_version)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 2),"
        " (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 2)",
        rows,
    )
    cursor.execute(
        "UPDATE affirmations_recordchainhead SET last_seq = %s, last_hash = %s WHERE chain = %s",
        [seq, previous, chain],
    )
