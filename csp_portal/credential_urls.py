"""Routes of /csp/ (see csp_portal/urls.py): API keys and webhook endpoints."""

from django.urls import path

from . import credential_views as views

urlpatterns = [
    path("keys/", views.keys_list, name="keys"),
    path("keys/new/", views.key_create, name="key-create"),
    path("keys/<int:key_id>/revoke/", views.key_revoke, name="key-revoke"),
    path("webhooks/", views.webhooks_list, name="webhooks"),
    path("webhooks/new/", views.webhook_create, name="webhook-create"),
    path("webhooks/<int:endpoint_id>/", views.webhook_detail, name="webhook"),
    path("webhooks/<int:endpoint_id>/delete/", views.webhook_delete, name="webhook-delete"),
]
