"""``/dev/outbox/``: the emails the portal sent, with their links live, so a
newcomer running ``./dev up`` can click through as a customer would.

Only when ``settings.DEBUG`` is on, checked at request time (a test or a
deployment that turns DEBUG off closes it without a restart of the URLconf).
It shows unsealed links, which is exactly why it never exists in production.
"""

from django.conf import settings
from django.http import Http404
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_safe

from outbox.models import OutboundEmail
from smt_portal.sealed_tokens import unseal

RECENT = 50


def _debug_only():
    if not settings.DEBUG:
        raise Http404


@require_safe
def outbox_list(request):
    _debug_only()
    emails = OutboundEmail.objects.only(
        "pk", "kind", "language", "to_address", "subject", "created_at", "status"
    ).order_by("-pk")[:RECENT]
    return render(request, "affirmations/dev_outbox.html", {"emails": emails})


@require_safe
def outbox_email(request, email_id):
    _debug_only()
    email = get_object_or_404(OutboundEmail, pk=email_id)
    context = {"email": email, "body": unseal(email.body_text)}
    response = render(request, "affirmations/dev_outbox_email.html", context)
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "no-referrer"
    return response
