"""Shared fixtures of the account tests: signed-in customers with a proven address.

Sign-in itself is tested in ``test_auth.py``; here a customer is logged in with
``force_login`` and owns a verified, primary allauth address.
"""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from accounts.models import PremiseLink
from tests.affirmations.conftest import (  # noqa: F401 (fixtures for every account test)
    NOW,
    cheap_altcha,
    disclosure,
    frozen,
)


def make_customer(name="maria", email=None):
    """An account whose address (``<name>@example.com`` by default) is proven."""
    from allauth.account.models import EmailAddress

    email = email or f"{name}@example.com"
    user = get_user_model().objects.create_user(
        username=name, email=email, password="a long enough passphrase"
    )
    EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    return user


def signed_in(user):
    client = Client()
    client.force_login(user)
    return client


def link_premise(user, premise, *, linked_at=NOW):
    """An open link, as if the customer had proved the premise at ``linked_at``."""
    return PremiseLink.objects.create(user=user, premise=premise, linked_at=linked_at)


@pytest.fixture
def customer(db):
    return make_customer()


@pytest.fixture
def customer_client(customer):
    """A browser signed in as ``customer``."""
    return signed_in(customer)


@pytest.fixture
def neighbour(db):
    """Another account, with its own proven address."""
    return make_customer("nora")


@pytest.fixture
def neighbour_client(neighbour):
    return signed_in(neighbour)
