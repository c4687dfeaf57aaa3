"""Public pages of the CSP registry: the application form."""

from django.conf import settings
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import get_language
from django.views.decorators.http import require_http_methods
from django_ratelimit.core import is_ratelimited

from smt_portal.client_ip import ratelimit_ip_key

from .forms import CspApplicationForm
from .services import csp_apply


def _too_many_applications(request):
    try:
        return is_ratelimited(
            request,
            group="csp-register",
            key=ratelimit_ip_key,
            rate=settings.CSP_REGISTER_RATE_LIMIT,
            method="POST",
            increment=True,
        )
    except Exception:  # cache unreachable: refuse rather than accept unlimited
        return True


@require_http_methods(["GET", "POST"])
def register(request):
    if request.method == "POST":
        if _too_many_applications(request):
            return render(request, "csp_registry/register_limited.html", status=429)
        form = CspApplicationForm(request.POST, request=request)
        if form.is_valid():
            csp_apply(fields=form.application(), now=timezone.now(), language=get_language())
            return redirect("csp-register-done")
    else:
        form = CspApplicationForm()
    return render(request, "csp_registry/register.html", {"form": form})


def register_done(request):
    return render(request, "csp_registry/register_done.html")
