"""The admin shows endpoints and deliveries, never a signing secret."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from webhooks.models import WebhookDelivery

from .conftest import emit

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser_client():
    user = get_user_model().objects.create(username="root", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(user)
    return client


def test_the_admin_shows_no_secret_of_an_endpoint(
    endpoint, receiver, superuser_client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        emit(endpoint.csp)
    delivery = WebhookDelivery.objects.get()
    pages = [
        reverse("admin:webhooks_webhookendpoint_changelist"),
        reverse("admin:webhooks_webhookendpoint_change", args=[endpoint.pk]),
        reverse("admin:webhooks_webhookdelivery_changelist"),
        reverse("admin:webhooks_webhookdelivery_change", args=[delivery.pk]),
    ]
    secret = endpoint.secret
    for page in pages:
        response = superuser_client.get(page)
        assert response.status_code == 200, page
        html = response.content.decode()
        assert secret not in html and secret[10:30] not in html, page
        assert endpoint.secret_seal not in html, page
    detail = superuser_client.get(pages[1]).content.decode()
    assert endpoint.secret_prefix in detail


def test_staff_see_each_attempt_of_a_delivery(
    endpoint, receiver, superuser_client, django_capture_on_commit_callbacks
):
    receiver.answer_with(502, b"bad gateway upstream")
    with django_capture_on_commit_callbacks(execute=True):
        emit(endpoint.csp)
    delivery = WebhookDelivery.objects.get()
    page = superuser_client.get(
        reverse("admin:webhooks_webhookdelivery_change", args=[delivery.pk])
    )
    assert "bad gateway upstream" in page.content.decode()
