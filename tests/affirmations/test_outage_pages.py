"""The customer's decision while Redis (the challenge's replay store) is down:
a "try again in a minute" page, 503, and nothing recorded."""

import pytest
from django.test import Client, override_settings

from affirmations.models import Agreement, AgreementLink, AgreementStatus, Record, RecordEvent
from outbox.models import OutboundEmail
from tests.faults import NOT_LISTENING

from .conftest import open_emailed_link, request_agreement, residential, solved_challenge


@pytest.fixture
def redis_down():
    """Call it to take the cache down; it is back before the test's cache is cleared."""
    outage = override_settings(
        CACHES={
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": NOT_LISTENING,
                "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
            }
        }
    )
    yield outage.enable
    outage.disable()


@pytest.mark.django_db
@pytest.mark.usefixtures("frozen", "cheap_altcha", "disclosure")
def test_an_opt_in_while_redis_is_down_says_try_again_and_records_nothing(active_csp, redis_down):
    agreement = request_agreement(active_csp, residential())
    browser = Client(raise_request_exception=False)
    open_emailed_link(browser, OutboundEmail.objects.get())
    link = AgreementLink.objects.get(agreement=agreement).pk
    solution = solved_challenge()
    redis_down()

    response = browser.post(
        "/affirm/opt-in/",
        {"link": link, "acknowledge": "on", "disclosure_version": 3, "altcha": solution},
    )

    assert response.status_code == 503
    assert "Please try again in a minute" in response.content.decode()
    assert Agreement.objects.get().status == AgreementStatus.PENDING_AFFIRMATION
    assert not Record.objects.filter(event=RecordEvent.OPTED_IN).exists()
