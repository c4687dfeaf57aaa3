"""The customer's page of reads (beside the "stop sharing" page it is linked from)."""

from django.urls import path

from . import views

app_name = "data_access"

urlpatterns = [
    path("end/reads/", views.data_reads_page, name="reads"),
]
