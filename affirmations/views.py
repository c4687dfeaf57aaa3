"""Customer pages. Mail scanners open links, so a GET here never changes anything."""

from django.http import Http404
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_safe

from .calendar import deadline_in_words
from .models import AgreementStatus, Language
from .services import agreement_link_find


def _page_language(request, agreement):
    asked = request.GET.get("lang", "")
    return asked if asked in Language.values else agreement.language


@require_safe
def affirmation_page(request, token):
    """The request, shown read-only (the decision page comes with the next issue).

    An unknown token answers the same neutral 404 as any other missing page,
    so the page cannot be used to test guesses.
    """
    link = agreement_link_find(token=token)
    if link is None:
        raise Http404
    agreement = link.agreement
    language = _page_language(request, agreement)
    context = {
        "agreement": agreement,
        "csp": agreement.csp,
        "premises": agreement.premises.all(),
        "language": language,
        "deadline_words": deadline_in_words(link.expires_at, language),
        "expired": link.expires_at < timezone.now(),
        "pending": agreement.status == AgreementStatus.PENDING_AFFIRMATION,
    }
    response = render(request, "affirmations/request_readonly.html", context)
    # A link carries a secret token: keep it out of caches and referrers.
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "no-referrer"
    return response
