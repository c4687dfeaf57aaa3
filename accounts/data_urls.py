"""Routes of /account/ (see accounts/urls.py): the account's data pages of one premise."""

from django.urls import path

from . import data_views

urlpatterns = [
    path("premises/<int:premise_id>/reads/", data_views.premise_reads, name="premise-reads"),
    path(
        "premises/<int:premise_id>/download/",
        data_views.premise_download,
        name="premise-download",
    ),  # fmt: skip
]
