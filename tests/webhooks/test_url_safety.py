"""SSRF: endpoint URLs are refused at save and, again, at every attempt."""

import ipaddress

import pytest
from django.utils import timezone

from webhooks.models import DeliveryStatus, WebhookAttempt, WebhookDelivery
from webhooks.safety import UnsafeUrl, address_refusal, resolve_vetted, url_check
from webhooks.services import EndpointInvalid, endpoint_create

from .conftest import ALL_TYPES, HOOK_HOST, emit

pytestmark = pytest.mark.django_db


@pytest.fixture
def production_rules(settings):
    settings.WEBHOOKS_ALLOW_INSECURE_LOCAL = False


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.bright-advice.example/smt",  # not https
        "ftp://hooks.bright-advice.example/smt",
        "https://user:pass@hooks.bright-advice.example/smt",  # credentials
        "https://hooks.bright-advice.example/smt#part",
        "https:///smt",
        "https://127.0.0.1/smt",
        "https://10.1.2.3/smt",
        "https://192.168.0.10/smt",
        "https://169.254.169.254/latest/meta-data/",
        "https://[::1]/smt",
        "https://[fd00:ec2::254]/smt",
        "https://[::ffff:127.0.0.1]/smt",  # IPv4-mapped loopback
        "https://[::ffff:a9fe:a9fe]/smt",  # IPv4-mapped metadata
        "https://0.0.0.0/smt",
        "https://2130706433/smt",  # 127.0.0.1 written as one number
        "https://0x7f.1/smt",
        "https://127.1/smt",
        "https://localhost/smt",
        "https://printer.local/smt",
        "https://metadata.google.internal/computeMetadata/",
        "https://intranet/smt",  # a single label: a local name
        "https://hooks.bright-advice.example:99999/smt",
        "https://hooks.bright-advice.example/" + "a" * 2000,
        "https://hooks.bright-advice.example/ spaced",
        "https://hoöks.example/smt",
    ],
)
def test_an_endpoint_url_that_is_not_public_https_is_refused_at_save(
    url, active_csp, production_rules
):
    with pytest.raises(EndpointInvalid) as refused:
        endpoint_create(csp=active_csp, url=url, event_types=ALL_TYPES, now=timezone.now())
    assert list(refused.value.fields) == ["url"]


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.bright-advice.example/smt?token=abc",
        "https://hooks.bright-advice.example:8443/smt",
        "https://93.184.215.14/smt",
        "https://[2606:4700::6810:84e5]/smt",
        "https://xn--hoks-5qa.example/smt",
    ],
)
def test_a_public_https_url_is_accepted(url, production_rules):
    assert url_check(url).scheme == "https"


def test_in_development_a_loopback_receiver_is_allowed_even_over_http(settings):
    settings.WEBHOOKS_ALLOW_INSECURE_LOCAL = True
    assert url_check("http://127.0.0.1:8001/hook").hostname == "127.0.0.1"
    assert url_check("https://localhost:8443/hook").hostname == "localhost"
    with pytest.raises(UnsafeUrl):
        url_check("http://10.0.0.5/hook")  # private is never allowed
    with pytest.raises(UnsafeUrl):
        url_check("http://hooks.bright-advice.example/hook")  # http only to loopback


@pytest.mark.parametrize(
    "address, reason",
    [
        ("127.0.0.1", "loopback"),
        ("10.0.0.1", "private"),
        ("172.16.5.4", "private"),
        ("100.64.0.1", "not a public"),  # carrier-grade NAT
        ("169.254.169.254", "metadata"),
        ("fd00:ec2::254", "metadata"),
        ("fe80::1", "link-local"),
        ("::ffff:10.0.0.1", "private"),
        ("64:ff9b::a00:1", "private"),  # NAT64 of 10.0.0.1
        ("2002:7f00:1::", "loopback"),  # 6to4 of 127.0.0.1
        ("224.0.0.1", "multicast"),
        ("0.0.0.0", "unspecified"),  # noqa: S104 -- an address refused, not bound
        ("240.0.0.1", "reserved"),
    ],
)
def test_addresses_inside_or_special_are_refused(address, reason, production_rules):
    assert reason in address_refusal(ipaddress.ip_address(address))


def test_a_public_address_is_allowed(production_rules):
    assert address_refusal(ipaddress.ip_address("93.184.215.14")) is None
    assert address_refusal(ipaddress.ip_address("2606:4700::6810:84e5")) is None


def test_a_name_is_refused_when_any_of_its_addresses_is_inside(fake_dns, production_rules):
    fake_dns[HOOK_HOST] = ["93.184.215.14", "10.0.0.7"]
    with pytest.raises(UnsafeUrl, match="private"):
        resolve_vetted(HOOK_HOST, 443)
    fake_dns[HOOK_HOST] = ["93.184.215.14"]
    assert resolve_vetted(HOOK_HOST, 443) == ["93.184.215.14"]


@pytest.mark.parametrize("inside", ["127.0.0.1", "169.254.169.254", "::ffff:127.0.0.1"])
def test_a_name_that_points_inside_at_send_time_is_not_reached(
    inside, active_csp, receiver, fake_dns, clock, settings, django_capture_on_commit_callbacks
):
    """DNS rebinding: accepted when registered, the name later resolves inside."""
    fake_dns[HOOK_HOST] = ["93.184.215.14"]
    settings.WEBHOOKS_ALLOW_INSECURE_LOCAL = False
    endpoint, _ = endpoint_create(
        csp=active_csp, url=receiver.url, event_types=ALL_TYPES, now=timezone.now()
    )
    fake_dns[HOOK_HOST] = [inside]
    with django_capture_on_commit_callbacks(execute=True):
        [event] = emit(active_csp)
    assert receiver.requests == []
    attempt = WebhookAttempt.objects.get(delivery__event=event)
    assert "the portal does not send there" in attempt.error
    assert attempt.status_code is None
    assert WebhookDelivery.objects.get(event=event).status == DeliveryStatus.PENDING
