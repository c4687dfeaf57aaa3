"""Customer pages reached from emails."""

from django.urls import path

from . import views

app_name = "affirmations"

urlpatterns = [
    path("affirm/<str:token>/", views.affirmation_page, name="affirm"),
]
