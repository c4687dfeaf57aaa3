"""R10: production settings cannot switch the bot challenge off or make it trivial."""

import json

from tests.smt_portal.test_deployment import PRODUCTION, run_manage

ATTEMPTS_TO_SWITCH_OFF = {
    "ALTCHA_TEST_MODE": "true",
    "ALTCHA_VERIFIER": "null",
    "ALTCHA_VERIFICATION_ENABLED": "false",
    "ALTCHA_REPLAY_PROTECTION": "false",
}
PROBE = (
    "import json; from altcha_django.conf import conf; from altcha_django import get_verifier; "
    "print(json.dumps({'test_mode': conf.TEST_MODE, 'replay': conf.REPLAY_PROTECTION, "
    "'verifier': type(get_verifier()).__name__, 'cost': conf.CHALLENGE['cost'], "
    "'cache': conf.CACHE_ALIAS}))"
)


def test_production_keeps_the_real_challenge_whatever_the_environment_says():
    result = run_manage("shell", "-c", PROBE, environment={**PRODUCTION, **ATTEMPTS_TO_SWITCH_OFF})
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen == {
        "test_mode": False,
        "replay": True,
        "verifier": "LocalVerifier",
        "cost": 5000,
        "cache": "default",
    }


def test_production_refuses_a_trivial_amount_of_work():
    result = run_manage("check", environment={**PRODUCTION, "ALTCHA_COST": "1"})
    assert result.returncode != 0
    assert "ALTCHA_COST" in result.stderr
