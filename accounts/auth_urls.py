"""Routes of /account/ (see accounts/urls.py): the account's own pages around
sign-in. allauth's pages (login/, signup/, email/, password/…, 2fa/…) are
mounted at /account/ too, without a namespace, by smt_portal/urls.py."""

from django.urls import path

from . import auth_views

urlpatterns = [
    path("delete/", auth_views.account_delete, name="delete"),
    path("deleted/", auth_views.account_deleted, name="deleted"),
]
