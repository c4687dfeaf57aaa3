"""Routes of /csp/ (see csp_portal/urls.py): home, invitations, users, the record."""

from django.urls import path

from . import people_views as views

urlpatterns = [
    path("", views.home, name="home"),
    path("invitations/accept/", views.invitation_accept, name="invitation-accept"),
    path("invitations/<str:token>/", views.invitation_link, name="invitation"),
    path("users/", views.users, name="users"),
    path("users/invite/", views.user_invite, name="user-invite"),
    path("users/<int:member_id>/role/", views.user_role, name="user-role"),
    path("users/<int:member_id>/remove/", views.user_remove, name="user-remove"),
    path(
        "invitations/<int:invitation_id>/revoke/",
        views.invitation_revoke,
        name="invitation-revoke",
    ),
    path("activity/", views.activity, name="activity"),
]
