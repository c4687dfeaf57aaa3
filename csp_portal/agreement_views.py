"""The portal's agreements: the list, one agreement with its timeline and webhook
deliveries, its buttons, and the request form.

Every change calls the same service as the agreements API
(``affirmations.api.views``), with the same actor shape and the services'
refusals shown in their own words; an agreement of another CSP is a 404.
"""

import logging

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from affirmations import services
from affirmations.api.serializers import AgreementOutput
from affirmations.api.views import agreements_of
from affirmations.masking import mask_email
from affirmations.models import EndedBy, Record
from csp_registry.api.ratelimits import PREMISE_CHECKS_SCOPE, budgets_take
from csp_registry.models import CspEvent
from smt_portal.actors import Actor
from smt_portal.client_ip import client_ip, ratelimit_ip_key
from webhooks.models import WebhookDelivery

from .access import csp_member_required
from .agreement_forms import (
    AgreementFilterForm,
    AgreementRequestForm,
    RenewalForm,
    TerminationForm,
    premise_formset,
)

logger = logging.getLogger(__name__)

PAGE_SIZE = 25
UNAVAILABLE = "The service is briefly unavailable; nothing was done. Please retry."
ACTOR_WORDS = {
    "csp": "your provider",
    "customer": "the customer",
    "staff": "the portal's staff",
    "commission": "the Commission",
    "system": "the portal",
}


def _actor(request):
    """The member acting for their CSP (a user id in the record, never an address)."""
    return Actor.csp_user(
        request.csp_member.csp,
        request.user,
        ip=client_ip(request),
        user_agent=request.headers.get("User-Agent", "")[:500],
    )


def _agreement_or_404(request, agreement_id, queryset=None):
    queryset = queryset if queryset is not None else agreements_of(request.csp_member.csp)
    agreement = queryset.filter(pk=agreement_id).first()
    if agreement is None:
        raise Http404("No such agreement of this provider.")
    return agreement


# --- The list ----------------------------------------------------------------------------


@require_safe
@csp_member_required("read")
def agreement_list(request):
    csp = request.csp_member.csp
    filters = AgreementFilterForm(request.GET or None)
    agreements = agreements_of(csp)
    if filters.is_bound and filters.is_valid():
        if filters.cleaned_data["status"]:
            agreements = agreements.filter(status=filters.cleaned_data["status"])
        if filters.cleaned_data["esi_id"]:
            agreements = agreements.filter(premises__esi_id=filters.cleaned_data["esi_id"])
    elif filters.is_bound:
        agreements = agreements.none()
    page = Paginator(agreements, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "csp_portal/agreements/list.html",
        {
            "csp": csp,
            "filters": filters,
            "page": page,
            "rows": [_row(agreement) for agreement in page.object_list],
            "query": query.urlencode(),
            "can_request": request.csp_member.role in ("admin", "agent"),
        },
    )


def _row(agreement):
    return {
        "agreement": agreement,
        "esi_ids": [premise.esi_id for premise in agreement.premises.all()],
        "customer_email_masked": mask_email(agreement.customer_email),
    }


# --- One agreement -----------------------------------------------------------------------


@require_safe
@csp_member_required("read")
def agreement_detail(request, agreement_id):
    agreement = _agreement_or_404(request, agreement_id)
    return _render_detail(request, agreement)


def _render_detail(request, agreement, *, renewal_form=None, termination_form=None, status=200):
    csp = request.csp_member.csp
    events = list(CspEvent.objects.filter(csp=csp, agreement_id=agreement.pk).order_by("id"))
    records = list(Record.objects.filter(agreement=agreement).order_by("id"))
    deliveries = list(
        WebhookDelivery.objects.filter(event__in=[event.pk for event in events])
        .select_related("endpoint", "event")
        .prefetch_related("attempt_log")
        .order_by("id")
    )
    timeline = sorted(
        [
            {
                "at": record.created_at,
                "source": "record",
                "what": record.get_event_display(),
                "who": ACTOR_WORDS.get(record.actor_type, record.actor_type),
            }
            for record in records
        ]
        + [
            {
                "at": event.occurred_at,
                "source": "event",
                "what": f"Event {event.type} ({event.public_id})",
                "who": "",
            }
            for event in events
        ],
        key=lambda entry: (entry["at"], entry["source"] == "event"),
    )
    return render(
        request,
        "csp_portal/agreements/detail.html",
        {
            "csp": csp,
            "agreement": agreement,
            "api": AgreementOutput(agreement).data,
            "timeline": timeline,
            "deliveries": deliveries,
            "can_request": request.csp_member.role in ("admin", "agent"),
            "renewal_form": renewal_form or RenewalForm(),
            "termination_form": termination_form or TerminationForm(),
        },
        status=status,
    )


def _refused(request, agreement_id, exc):
    messages.error(request, exc.message)
    return redirect("csp_portal:agreement", agreement_id=agreement_id)


@require_POST
@csp_member_required("request")
def agreement_remind(request, agreement_id):
    agreement = _agreement_or_404(request, agreement_id)
    try:
        services.agreement_remind(agreement=agreement, actor=_actor(request), now=timezone.now())
    except services.AgreementError as exc:
        return _refused(request, agreement.pk, exc)
    messages.success(request, "The reminder was emailed to the customer (same deadline).")
    return redirect("csp_portal:agreement", agreement_id=agreement.pk)


@require_POST
@csp_member_required("request")
def agreement_renew(request, agreement_id):
    agreement = _agreement_or_404(request, agreement_id)
    form = RenewalForm(request.POST)
    if not form.is_valid():
        return _render_detail(request, agreement, renewal_form=form, status=400)
    try:
        services.agreement_renewal_request(
            agreement=agreement,
            customer_email=form.cleaned_data["customer_email"],
            actor=_actor(request),
            now=timezone.now(),
        )
    except services.AgreementError as exc:
        return _refused(request, agreement.pk, exc)
    messages.success(
        request,
        f"The renewal request was emailed to {mask_email(form.cleaned_data['customer_email'])}.",
    )
    return redirect("csp_portal:agreement", agreement_id=agreement.pk)


@require_POST
@csp_member_required("request")
def agreement_terminate(request, agreement_id):
    agreement = _agreement_or_404(request, agreement_id)
    form = TerminationForm(request.POST)
    if not form.is_valid():
        return _render_detail(request, agreement, termination_form=form, status=400)
    try:
        services.agreement_terminate(
            agreement=agreement,
            ended_by=EndedBy.CSP,
            reason=form.cleaned_data["reason"],
            actor=_actor(request),
            now=timezone.now(),
        )
    except services.AgreementError as exc:
        return _refused(request, agreement.pk, exc)
    messages.success(request, "The agreement was ended; the customer is told by email.")
    return redirect("csp_portal:agreement", agreement_id=agreement.pk)


# --- The request form --------------------------------------------------------------------


class _BudgetExhausted(Exception):
    pass


def _premise_checks_take(request, count):
    """The API's premise-check budget (``premise_checks_consume``): this CSP's and
    this IP's counters, shared with its API keys, taken whole or not at all."""
    rates = settings.API_RATE_LIMITS.get(PREMISE_CHECKS_SCOPE, {})
    values = {"ip": ratelimit_ip_key(None, request), "csp": str(request.csp_member.csp.pk)}
    budgets = [(per, values[per], rates[per]) for per in ("ip", "csp") if rates.get(per)]
    refused = budgets_take(budgets, count=count)
    if refused is not None:
        raise _BudgetExhausted(
            f"These {count} premise(s) would take more premise checks than this provider's "
            f"budget has left ({refused.limit} per {refused.period} seconds); nothing was "
            f"checked. Try again in {max(1, refused.time_left())} seconds."
        )


@require_http_methods(["GET", "POST"])
@csp_member_required("request")
def agreement_request(request):
    csp = request.csp_member.csp
    if request.method == "GET":
        rows = request.GET.get("rows", "1")
        rows = int(rows) if rows.isdigit() else 1
        return _render_request(request, premise_formset(rows)(), AgreementRequestForm())
    if "add_row" in request.POST:
        return _render_request(request, *_with_one_more_row(request.POST))
    formset = premise_formset()(request.POST)
    form = AgreementRequestForm(request.POST)
    if not (formset.is_valid() and form.is_valid()):
        return _render_request(request, formset, form, status=400)
    triples = formset.triples()
    try:
        _premise_checks_take(request, len(triples))
    except _BudgetExhausted as exc:
        form.add_error(None, str(exc))
        return _render_request(request, formset, form, status=429)
    except Exception as exc:  # redis-py and socket errors share no base class
        logger.warning("rate-limit cache unavailable: %s", exc.__class__.__name__)
        form.add_error(None, UNAVAILABLE)
        return _render_request(request, formset, form, status=503)
    try:
        agreement = services.agreement_request(
            csp=csp,
            premises=triples,
            customer_email=form.cleaned_data["customer_email"],
            term_months=form.cleaned_data["term_months"],
            language=form.cleaned_data["language"],
            actor=_actor(request),
            now=timezone.now(),
        )
    except services.AgreementError as exc:
        form = _refusal_on_fields(exc, formset, form, request.POST)
        return _render_request(request, formset, form, status=422)
    return redirect("csp_portal:requested", agreement_id=agreement.pk)


def _with_one_more_row(data):
    rows = premise_formset()(data)
    count = min(rows.total_form_count() + 1, services.MAX_PREMISES)
    formset = premise_formset(count)(
        initial=[
            {name: data.get(f"form-{index}-{name}", "") for name in
             ("esi_id", "meter_number", "rep_certificate_number")}
            for index in range(rows.total_form_count())
        ]
    )  # fmt: skip
    form = AgreementRequestForm(
        initial={name: data.get(name) for name in ("customer_email", "term_months", "language")}
    )
    return formset, form


def _refusal_on_fields(exc, formset, form, data):
    """The service's refusal, in its words, on the fields it is about."""
    filled = formset.filled()
    if isinstance(exc, services.AuthenticationFailed):
        for index in exc.indexes:
            filled[index].add_error(
                None,
                "This premise could not be authenticated: check its ESI ID, meter number and "
                "provider of record.",
            )
        form.add_error(None, exc.message)
    elif isinstance(exc, services.DuplicateAgreement | services.CooldownActive):
        for row in filled:
            if row.cleaned_data["esi_id"] in exc.esi_ids:
                row.add_error("esi_id", exc.message)
        form.add_error(None, exc.message)
    elif isinstance(exc, services.TermExceedsLimit):
        # Offer only the terms these premises allow.
        form = AgreementRequestForm(data, max_term_months=exc.maximum)
        form.is_valid()
        form.errors.pop("term_months", None)
        form.add_error("term_months", exc.message)
    else:
        form.add_error(None, exc.message)
    return form


def _render_request(request, formset, form, status=200):
    return render(
        request,
        "csp_portal/agreements/request.html",
        {
            "csp": request.csp_member.csp,
            "formset": formset,
            "form": form,
            "max_premises": services.MAX_PREMISES,
        },
        status=status,
    )


@require_safe
@csp_member_required("request")
def agreement_requested(request, agreement_id):
    agreement = _agreement_or_404(request, agreement_id)
    return render(
        request,
        "csp_portal/agreements/requested.html",
        {"agreement": agreement, "api": AgreementOutput(agreement).data},
    )
