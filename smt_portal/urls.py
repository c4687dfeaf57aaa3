from allauth.account import views as account_views
from django.contrib import admin
from django.urls import include, path

from . import health

# allauth's pages for staff sign-in, and only those: no sign-up, password reset
# or email pages until customer accounts and the CSP portal need them.
accounts = [
    path("login/", account_views.login, name="account_login"),
    path("logout/", account_views.logout, name="account_logout"),
    path("inactive/", account_views.account_inactive, name="account_inactive"),
    path("reauthenticate/", account_views.reauthenticate, name="account_reauthenticate"),
    path("2fa/", include("allauth.mfa.urls")),
]

# Read by allauth when its rate limits refuse a request.
handler429 = "smt_portal.staff_auth.too_many_attempts"

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("healthz/live", health.live, name="healthz-live"),
    path("healthz/ready", health.ready, name="healthz-ready"),
    path("api/v1/", include("smt_portal.api_urls")),
    path("csp/", include("csp_registry.urls")),
    path("", include("data_access.urls")),  # before affirmations' /end/<token>/
    path("", include("affirmations.urls")),
    path("", include("monitoring.urls")),
    path("altcha/", include("altcha_django.urls")),
    path("accounts/", include(accounts)),
    path("account/", include("accounts.urls")),
    path("admin/", admin.site.urls),
]

# A dependency outage answers 503 "try again in a minute", anything else 500.
handler500 = "smt_portal.outages.server_error"
