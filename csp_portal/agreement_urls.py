"""Routes of /csp/ (see csp_portal/urls.py)."""

urlpatterns = []
