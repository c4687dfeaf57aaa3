from django.contrib import admin
from django.urls import include, path, re_path

from accounts import auth_views

from . import health, landing

# django-allauth's pages, at /account/ without a namespace (allauth reverses
# its own names: account_login, account_signup, mfa_index, …): one sign-in
# page for staff (username, password, TOTP) and customers (email address with a
# password or an emailed code); customers' sign-up, email, password and
# second-factor pages. The account's other pages are accounts.urls ("accounts:").
allauth_pages = [
    path("", include("allauth.account.urls")),
    path("2fa/", include("allauth.mfa.urls")),
]

# Read by allauth when its rate limits refuse a request.
handler429 = "smt_portal.staff_auth.too_many_attempts"

# The admin's "View site" opens the customers' landing page.
admin.site.site_url = "/"

urlpatterns = [
    path("", landing.landing, name="landing"),
    path("healthz", health.healthz, name="healthz"),
    path("healthz/live", health.live, name="healthz-live"),
    path("healthz/ready", health.ready, name="healthz-ready"),
    path("api/v1/", include("smt_portal.api_urls")),
    path("csp/", include("csp_registry.urls")),
    path("csp/", include("csp_portal.urls")),
    path("", include("data_access.urls")),  # before affirmations' /end/<token>/
    path("", include("affirmations.urls")),
    path("", include("monitoring.urls")),
    path("altcha/", include("altcha_django.urls")),
    # The staff sign-in's former address: /accounts/… → /account/….
    re_path(r"^accounts/(?P<rest>.*)$", auth_views.moved_to_account),
    path("account/", include(allauth_pages)),
    path("account/", include("accounts.urls")),
    path("admin/", admin.site.urls),
]

# A dependency outage answers 503 "try again in a minute", anything else 500.
handler500 = "smt_portal.outages.server_error"
