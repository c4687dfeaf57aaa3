"""Secrets and signatures, checked against the Standard Webhooks reference implementation."""

import base64
from datetime import UTC, datetime

from standardwebhooks.webhooks import Webhook

from webhooks.signing import secret_new, secret_of, signature, signed_headers


def test_a_secret_is_whsec_and_32_random_bytes_rebuilt_from_its_seal():
    seal, secret = secret_new()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    assert secret_of(seal) == secret
    assert secret_new()[1] != secret


def test_the_secret_depends_on_the_portals_secret_key(settings):
    seal, secret = secret_new()
    settings.SECRET_KEY = "another-" + settings.SECRET_KEY
    assert secret_of(seal) != secret


def test_a_signature_is_the_one_the_reference_implementation_computes():
    seal, secret = secret_new()
    body = '{"id":"evt_1","type":"agreement.affirmed","data":{"agreement":{"id":1}}}'
    at = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
    ours = signature(seal=seal, msg_id="evt_1", timestamp=int(at.timestamp()), body=body)
    assert ours == Webhook(secret).sign(msg_id="evt_1", timestamp=at, data=body)


def test_signed_headers_verify_with_the_reference_implementation(clock):
    seal, secret = secret_new()
    body = '{"id":"evt_9","café":"ñ"}'
    now = int(datetime.now(tz=UTC).timestamp())
    headers = signed_headers(seal=seal, msg_id="evt_9", timestamp=now, body=body)
    assert Webhook(secret).verify(body, headers) == {"id": "evt_9", "café": "ñ"}
