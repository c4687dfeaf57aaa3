"""Which language a customer page speaks (contract: English and Spanish).

``?lang=es|en`` wins and is remembered in the session; otherwise the language
of the request the page is about (the CSP chose it for the customer's email);
otherwise the browser's ``Accept-Language``.
"""

from django.conf import settings
from django.utils import translation

SESSION_KEY = "portal_language"


def _offered():
    return {code for code, _ in settings.LANGUAGES}


def page_language(request, agreement=None):
    """Activate and return the page's language for this request."""
    asked = request.GET.get("lang", "")
    if asked in _offered():
        request.session[SESSION_KEY] = asked
        chosen = asked
    else:
        remembered = request.session.get(SESSION_KEY)
        chosen = (
            remembered
            if remembered in _offered()
            else (agreement.language if agreement is not None else None)
            or translation.get_language_from_request(request)
        )
    translation.activate(chosen)
    request.LANGUAGE_CODE = chosen
    return chosen


class QueryLanguageMiddleware:
    """Applies ``?lang=`` (and the remembered choice) on every page; put it
    after ``LocaleMiddleware``. Pages about an agreement call
    ``page_language`` again with it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path.startswith("/api/"):
            page_language(request)
        return self.get_response(request)
