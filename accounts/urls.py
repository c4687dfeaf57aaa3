"""/account/: the optional customer account (contract). Each part of the app
contributes its own routes."""

from django.urls import include, path

app_name = "accounts"

urlpatterns = [
    path("", include("accounts.auth_urls")),
    path("", include("accounts.dashboard_urls")),
    path("", include("accounts.data_urls")),
]
