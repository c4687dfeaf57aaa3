"""Routes of /account/ (see accounts/urls.py): the dashboard, the account's
premises and the customer's actions on the agreements on them."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("premises/add/", views.premise_add, name="premise-add"),
    path("premises/<int:premise_id>/remove/", views.premise_remove, name="premise-remove"),
    path("agreements/<int:agreement_id>/", views.agreement_page, name="agreement"),
    path("agreements/<int:agreement_id>/opt-in/", views.agreement_opt_in, name="agreement-opt-in"),
    path(
        "agreements/<int:agreement_id>/opt-out/", views.agreement_opt_out, name="agreement-opt-out"
    ),
    path(
        "agreements/<int:agreement_id>/report-spam/",
        views.agreement_report_spam,
        name="agreement-report-spam",
    ),
    path("agreements/<int:agreement_id>/end/", views.agreement_end, name="agreement-end"),
    path("agreements/<int:agreement_id>/ended/", views.agreement_ended, name="agreement-ended"),
]
