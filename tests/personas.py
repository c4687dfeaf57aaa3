"""Personas for access-control tests: CSPs in each status and their API clients.

``csp_api`` & co. are DRF ``APIClient``s sending ``Authorization: Bearer
<key>`` for that CSP; each also carries ``.csp`` and ``.key`` (the full key).
"""

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from csp_registry.models import CspStatus
from csp_registry.services import csp_issue_key
from tests import factories


def make_csp(**fields):
    """A CSP (active unless ``status`` says otherwise); see ``tests.factories.make_csp``."""
    return factories.make_csp(**fields)


def issue_key(csp, **fields):
    """A new API key of ``csp``; returns the full key (the only time it exists)."""
    _, full_key = csp_issue_key(csp=csp, now=fields.pop("now", None) or timezone.now(), **fields)
    return full_key


def key_secret(full_key):
    """The secret part of ``smt_<prefix>_<secret>``; the secret itself may contain ``_``."""
    label, prefix, secret = full_key.split("_", 2)
    assert (label, len(prefix)) == ("smt", 8), full_key
    return secret


def api_client_for(csp, key=None):
    client = APIClient()
    client.csp = csp
    client.key = key or issue_key(csp)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {client.key}")
    return client


@pytest.fixture
def active_csp(db):
    return make_csp(legal_name="Bright Advice LLC", contact_email="ops@bright-advice.example")


@pytest.fixture
def other_csp(db):
    return make_csp(
        legal_name="Other Energy Inc",
        contact_email="api@other-energy.example",
        notice_email="legal@other-energy.example",
    )


@pytest.fixture
def suspended_csp(db):
    return make_csp(
        legal_name="Paused Solar LLC",
        contact_email="ops@paused-solar.example",
        status=CspStatus.SUSPENDED,
    )


@pytest.fixture
def revoked_csp(db):
    return make_csp(
        legal_name="Gone Brokers LLC",
        contact_email="ops@gone-brokers.example",
        status=CspStatus.REVOKED,
    )


@pytest.fixture
def pending_csp(db):
    return make_csp(
        legal_name="New Meters Co",
        contact_email="hello@new-meters.example",
        status=CspStatus.PENDING_REVIEW,
    )


@pytest.fixture
def csp_api(active_csp):
    return api_client_for(active_csp)


@pytest.fixture
def other_csp_api(other_csp):
    return api_client_for(other_csp)


@pytest.fixture
def suspended_csp_api(suspended_csp):
    return api_client_for(suspended_csp)


@pytest.fixture
def revoked_csp_api(revoked_csp):
    return api_client_for(revoked_csp)


@pytest.fixture
def pending_csp_api(pending_csp):
    return api_client_for(pending_csp)


@pytest.fixture
def anonymous_api(db):
    return APIClient()
