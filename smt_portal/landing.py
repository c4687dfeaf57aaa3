"""``/``: what the portal is, for a customer who arrives without an emailed link
(and where the admin's "View site" goes). In development (``DEBUG``) it also
links a newcomer to the outbox, the API docs and the admin."""

from django.conf import settings
from django.shortcuts import render
from django.views.decorators.http import require_safe


@require_safe
def landing(request):
    return render(request, "landing.html", {"development": settings.DEBUG})
