from django.urls import path

from .api import views

# The route names are what the request log records and the detectors once read.
urlpatterns = [
    path(
        "agreements/<int:agreement_id>/interval-data/",
        views.IntervalDataView.as_view(),
        name="api-agreement-interval-data",
    ),
    path(
        "agreements/<int:agreement_id>/daily-usage/",
        views.DailyUsageView.as_view(),
        name="api-agreement-daily-usage",
    ),
    path(
        "agreements/<int:agreement_id>/monthly-usage/",
        views.MonthlyUsageView.as_view(),
        name="api-agreement-monthly-usage",
    ),
]
