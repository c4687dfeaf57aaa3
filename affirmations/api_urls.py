from django.urls import path

from .api import views

urlpatterns = [
    path("agreements/", views.AgreementsView.as_view(), name="api-agreements"),
    path(
        "agreements/<int:agreement_id>/",
        views.AgreementDetailView.as_view(),
        name="api-agreement",
    ),
    path(
        "agreements/<int:agreement_id>/reminders/",
        views.AgreementReminderView.as_view(),
        name="api-agreement-reminders",
    ),
    path(
        "agreements/<int:agreement_id>/renewals/",
        views.AgreementRenewalsView.as_view(),
        name="api-agreement-renewals",
    ),
    path(
        "agreements/<int:agreement_id>/termination/",
        views.AgreementTerminationView.as_view(),
        name="api-agreement-termination",
    ),
]
