"""The CSP API under /api/v1/: each app contributes its own endpoints."""

from django.urls import include, path

urlpatterns = [
    path("", include("csp_registry.api_urls")),
    path("", include("affirmations.api_urls")),
    path("", include("data_access.api_urls")),
    path("", include("webhooks.api_urls")),
]
