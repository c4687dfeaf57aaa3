from django.urls import path

from . import views

app_name = "monitoring"

urlpatterns = [
    path("report/", views.report, name="report"),
    path("report/thanks/", views.report_done, name="report-done"),
    path("providers/", views.providers, name="providers"),
]
