from django.contrib import admin
from django.urls import include, path

from . import health

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("healthz/live", health.live, name="healthz-live"),
    path("healthz/ready", health.ready, name="healthz-ready"),
    path("api/v1/", include("smt_portal.api_urls")),
    path("csp/", include("csp_registry.urls")),
    path("", include("affirmations.urls")),
    path("", include("monitoring.urls")),
    path("altcha/", include("altcha_django.urls")),
    path("admin/", admin.site.urls),
]
