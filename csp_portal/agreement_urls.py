"""Routes of /csp/ (see csp_portal/urls.py): the agreements and the request form."""

from django.urls import path

from . import agreement_views as views

urlpatterns = [
    path("agreements/", views.agreement_list, name="agreements"),
    path("agreements/new/", views.agreement_request, name="request"),
    path("agreements/<int:agreement_id>/", views.agreement_detail, name="agreement"),
    path(
        "agreements/<int:agreement_id>/requested/",
        views.agreement_requested,
        name="requested",
    ),
    path(
        "agreements/<int:agreement_id>/reminder/",
        views.agreement_remind,
        name="agreement-reminder",
    ),
    path("agreements/<int:agreement_id>/renewal/", views.agreement_renew, name="agreement-renewal"),
    path(
        "agreements/<int:agreement_id>/termination/",
        views.agreement_terminate,
        name="agreement-termination",
    ),
]
