"""Routes of /account/ (see accounts/urls.py)."""

urlpatterns = []
