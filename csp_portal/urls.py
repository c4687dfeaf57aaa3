"""/csp/ (the CSP web portal): each part contributes its own routes."""

from django.urls import include, path

app_name = "csp_portal"

urlpatterns = [
    path("", include("csp_portal.people_urls")),
    path("", include("csp_portal.agreement_urls")),
    path("", include("csp_portal.credential_urls")),
]
