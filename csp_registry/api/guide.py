"""The opening of the API docs (SPECTACULAR_SETTINGS["DESCRIPTION"]): a live
quick start, the identifiers' formats, the error envelope, idempotency and rate
limits. Plain text only (settings.py imports it before the apps are ready); the
identifiers' patterns are premises.identifiers' own, the ones the schema's
fields carry (csp_registry/api/fields.py)."""

from premises.identifiers import (
    CERTIFICATE_NUMBER_PATTERN,
    ESI_ID_PATTERN,
    METER_NUMBER_PATTERN,
)

_IDENTIFIERS = [
    (
        "`esi_id`",
        "ESI ID: 17 digits (Oncor, AEP Texas, TNMP) or 22 (CenterPoint), beginning with "
        "`10` and the TDU's code; never pad or cut one",
        ESI_ID_PATTERN,
        "`10443720099000001`, `1008901000000000000001`",
    ),
    (
        "`meter_number`",
        "the serial of the premise's current meter: letters and digits",
        METER_NUMBER_PATTERN,
        "`SBX0000001`, `123456789`",
    ),
    (
        "`rep_certificate_number`",
        "the PUCT certificate number of the retail electric provider of record "
        "(`GET /api/v1/reps/`)",
        CERTIFICATE_NUMBER_PATTERN,
        "`10004`, `10166X`",
    ),
]
_IDENTIFIER_TABLE = "\n".join(
    ["| field | format | pattern | examples |", "|---|---|---|---|"]
    + [
        f"| {name} | {text} | `{pattern}` | {examples} |"
        for name, text, pattern, examples in _IDENTIFIERS
    ]
)

API_GUIDE = f"""

## Quick start

1. **Get a key.** Your company's portal admin creates one at `/csp/keys/` (shown once;
   `./dev up` prints a demo one). Send it with every call:
   `Authorization: Bearer smt_…`.
2. **Authenticate the premise** the customer gave you:
   `POST /api/v1/premise-authentications/` with `{{"esi_id": "10443720099000001",
   "meter_number": "SBX0000001", "rep_certificate_number": "10004"}}` answers
   `{{"authenticated": true, "max_term_months": 12}}`, or `{{"authenticated": false}}`
   whichever fact is wrong (it never says which).
3. **Ask the customer to agree:** `POST /api/v1/agreements/` with an `Idempotency-Key`
   header and `{{"premises": [<the three facts of each premise>], "customer_email":
   "…", "term_months": 12, "language": "en"}}` answers 201 with the agreement:
   `status` `pending_affirmation`, its `id` and a `confirmation_code` to tell the
   customer (their email repeats it). The portal emails the customer; only they decide.
4. **Wait for the customer** — any of:
   - a **webhook**: `POST /api/v1/webhook-endpoints/` with `{{"url": "https://…",
     "events": ["agreement.affirmed", "agreement.opted_out", "agreement.reported_spam",
     "agreement.timed_out"]}}` once; each event is POSTed to you, signed (Standard
     Webhooks; the `whsec_…` secret is shown once);
   - the **event feed**: `GET /api/v1/events/?after=<the last event id you saw>`,
     oldest first (the same payloads; catch up after downtime);
   - **polling**: `GET /api/v1/agreements/{{id}}/` until `status` is `active` (or ended:
     `opted_out`, `reported_spam`, `timed_out`); no more than once a minute.
5. **Read the data** the active agreement allows:
   `GET /api/v1/agreements/{{id}}/interval-data/?esi_id=…&start=YYYY-MM-DD&end=YYYY-MM-DD`
   (15-minute kWh; also `daily-usage/` and `monthly-usage/`), at most 366 local days
   inside the data window; `?format=csv` or `espi` (Green Button) or `Accept`.

## Identifiers

Send them as the customer's bill prints them: spaces and dashes (and an ESI ID's
leading apostrophe, from spreadsheets) are removed and letters upper-cased, then the
value must match its pattern; anything else is `400 invalid` naming the field.

{_IDENTIFIER_TABLE}

## Errors

Every error is JSON with the HTTP status and one envelope:

```json
{{"error": {{"code": "invalid", "message": "The request is invalid; see fields.",
           "fields": {{"esi_id": ["ESI ID must have 17 or 22 digits"]}}}}}}
```

Branch on `code` (snake_case, stable; each operation lists its own below), show
`message` to people (it may change); `fields` says which parts of the request were
wrong (for `invalid`), or gives a detail such as `opens_on` or the allowed
`from`/`to` range.

## Idempotency

Every POST accepts an `Idempotency-Key` header (any unique string up to 255
characters; a UUID is best). Retrying with the same key and the same body returns the
first response again and changes nothing — safe after a timeout. The same key with
another body is refused: `422 idempotency_key_reused`. Keys are kept at least 24 hours.

## Rate limits

Requests are counted per client IP and per provider, and the premises you check
(premise authentications and agreement creation together) against a premise-check
budget. Over a limit the answer is `429 rate_limited` with a `Retry-After` header
(seconds): wait that long, then retry. A request holding more premises than the
budget has left is refused whole; nothing in it was checked.
"""
