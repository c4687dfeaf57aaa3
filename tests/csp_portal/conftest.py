"""Shared fixtures of the CSP portal's tests: members of a CSP in each role,
signed in with their second factor (an activated authenticator app).

``member(csp, role)`` makes a user of ``csp``; ``portal_client(member)`` is a
``django.test.Client`` signed in as that member (the TOTP step is allauth's, so
``force_login`` stands for a sign-in that gave its code). ``admin_client``,
``agent_client`` and ``viewer_client`` are members of ``active_csp``; each
client carries ``.member``.
"""

import itertools

import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from csp_portal.models import CspMember, CspRole

PASSWORD = "a long enough passphrase"
_numbers = itertools.count(1)


def make_user(email, *, password=PASSWORD, totp=True):
    """An account with a proven address and (``totp``) an activated authenticator
    app; its secret is on ``user.totp_secret``."""
    user = get_user_model().objects.create_user(username=email, email=email, password=password)
    EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    user.totp_secret = None
    if totp:
        user.totp_secret = generate_totp_secret()
        TOTP.activate(user, user.totp_secret)
    return user


def make_member(csp, role=CspRole.ADMIN, *, email=None, totp=True, now=None):
    email = email or f"{role}{next(_numbers)}@csp-{csp.pk}.example"
    user = make_user(email, totp=totp)
    member = CspMember.objects.create(
        csp=csp, user=user, role=role, created_at=now or timezone.now()
    )
    member.user = user
    return member


def portal_client(member):
    client = Client()
    client.force_login(member.user, backend="django.contrib.auth.backends.ModelBackend")
    client.member = member
    return client


@pytest.fixture
def member(db):
    """``member(csp, role="admin", **options)``: a user of ``csp`` with a second factor."""
    return make_member


@pytest.fixture
def admin_client(active_csp):
    return portal_client(make_member(active_csp, CspRole.ADMIN))


@pytest.fixture
def agent_client(active_csp):
    return portal_client(make_member(active_csp, CspRole.AGENT))


@pytest.fixture
def viewer_client(active_csp):
    return portal_client(make_member(active_csp, CspRole.VIEWER))
