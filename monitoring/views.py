"""Public pages: report a provider (R17) and the register of providers.

Both work in English and Spanish: ``?lang=es`` or the browser's
Accept-Language (already applied by LocaleMiddleware).
"""

from django.conf import settings
from django.db.models import Count, IntegerField, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.views.decorators.http import require_http_methods, require_safe
from django_ratelimit.core import is_ratelimited

from smt_portal.client_ip import client_ip, ratelimit_ip_key

from .forms import ReportForm, csps_ever_active
from .models import CustomerReport, ReportOutcome
from .services import report_submit
from .texts import texts

DEFAULT_REPORT_RATE_LIMIT = "10/h"


def _language(request):
    """``?lang=`` when it names a portal language, else what LocaleMiddleware chose."""
    asked = request.GET.get("lang", "")
    if asked in dict(settings.LANGUAGES):
        translation.activate(asked)
        request.LANGUAGE_CODE = asked
    return translation.get_language() if translation.get_language() in ("en", "es") else "en"


def _too_many_reports(request):
    rate = getattr(settings, "REPORT_RATE_LIMIT", DEFAULT_REPORT_RATE_LIMIT)
    try:
        return is_ratelimited(request, group="monitoring-report", key=ratelimit_ip_key,
                              rate=rate, method="POST", increment=True)  # fmt: skip
    except Exception:  # cache unreachable: refuse rather than accept unlimited
        return True


@require_http_methods(["GET", "POST"])
def report(request):
    language = _language(request)
    words = texts(language)
    if request.method == "POST" and _too_many_reports(request):
        return render(request, "monitoring/report_limited.html", {"t": words}, status=429)
    # Links in emails fill in the provider and the premise ("this was not me").
    initial = {
        name: request.GET[name]
        for name in ("csp", "esi_id")
        if request.GET.get(name, "").isdigit() and len(request.GET[name]) <= 22
    }
    form = ReportForm(request.POST if request.method == "POST" else None, initial=initial,
                      language=language, request=request)  # fmt: skip
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        report_submit(
            csp=data["csp"], category=data["category"], description=data["description"],
            contact_email=data["contact_email"], esi_id=data["esi_id"], language=language,
            ip=client_ip(request), user_agent=request.headers.get("User-Agent", ""),
            now=timezone.now(),
        )  # fmt: skip
        return redirect(f"{reverse('monitoring:report-done')}?lang={language}")
    return render(request, "monitoring/report.html", {"form": form, "t": words, "lang": language})


@require_safe
def report_done(request):
    language = _language(request)
    return render(request, "monitoring/report_done.html", {"t": texts(language), "lang": language})


@require_safe
def providers(request):
    """The public register: each CSP that has been active, its status, since when,
    its scope of use and how many reports about it the committee upheld."""
    language = _language(request)
    upheld = (
        CustomerReport.objects.filter(csp=OuterRef("pk"), outcome=ReportOutcome.UPHELD)
        .order_by()
        .values("csp")
        .annotate(n=Count("pk"))
        .values("n")
    )
    rows = (
        csps_ever_active()
        .annotate(upheld_reports=Coalesce(Subquery(upheld, output_field=IntegerField()), 0))
        .order_by("legal_name")
        .only(
            "legal_name",
            "dba_name",
            "status",
            "status_changed_at",
            "scope_of_use",
            "scope_of_use_es",
            "website_url",
        )  # fmt: skip
    )
    words = texts(language)
    context = {"providers": rows, "t": words, "lang": language, "statuses": words["statuses"]}
    return render(request, "monitoring/providers.html", context)
