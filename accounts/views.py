"""The account's dashboard: its premises, every agreement on them, and the
customer's actions on those agreements (the same services as the emailed links).

Every view is behind ``customer_required``; an agreement is reachable only
through one of the account's open premise links (``services.account_agreement``),
otherwise 404, whoever asks. Each action is one POST, redirected (PRG).
"""

from functools import wraps

from django.contrib import messages
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from affirmations import services as affirmations
from affirmations.forms import AffirmationForm
from affirmations.language import page_language
from affirmations.rules import affirmation_state, can_decide, can_end, data_window
from affirmations.views import private
from smt_portal.actors import Actor
from smt_portal.calendar import CENTRAL, date_in_words, deadline_in_words, term_end
from smt_portal.client_ip import client_ip

from . import services
from .access import customer_required
from .forms import PremiseAddForm

# The words customers read for statuses, record events and who acted.
STATUS_WORDS = {
    "pending_affirmation": _lazy("Waiting for your decision"),
    "active": _lazy("Active: data is shared"),
    "opted_out": _lazy("Declined"),
    "reported_spam": _lazy("Reported as spam"),
    "timed_out": _lazy("Not answered in time"),
    "terminated": _lazy("Ended"),
    "revoked": _lazy("Revoked by the portal"),
    "term_ended": _lazy("Term over"),
}
EVENT_WORDS = {
    "request_created": _lazy("Request made"),
    "email_queued": _lazy("Email sent"),
    "reminder_sent": _lazy("Reminder sent"),
    "opted_in": _lazy("Agreed"),
    "opted_out": _lazy("Declined"),
    "reported_spam": _lazy("Reported as spam"),
    "timed_out": _lazy("Not answered in time"),
    "terminated": _lazy("Ended"),
    "revoked": _lazy("Revoked by the portal"),
    "term_ended": _lazy("Term over"),
    "renewal_requested": _lazy("Renewal asked for"),
    "renewed": _lazy("Renewed"),
    "renewal_timed_out": _lazy("Renewal not answered in time"),
    "renewal_declined": _lazy("Renewal declined"),
    "sharing_reminded": _lazy("Reminded of the sharing"),
    "status_changed": _lazy("Status changed"),
    "csp_status_changed": _lazy("Provider's status changed"),
}
ACTOR_WORDS = {
    "csp": _lazy("the provider"),
    "customer": _lazy("the customer"),
    "staff": _lazy("the portal's staff"),
    "commission": _lazy("the Commission"),
    "system": _lazy("the portal"),
}


def _account_email(user):
    """The account's own proven address (allauth's primary, verified one)."""
    from allauth.account.models import EmailAddress

    address = EmailAddress.objects.filter(user=user, verified=True, primary=True).first()
    return address.email if address else ""


def _actor(request):
    return Actor.customer(
        ip=client_ip(request),
        user_agent=request.headers.get("User-Agent", ""),
        label=f"account:{request.user.pk}",
    )


def account_page(view):
    """Signed in, private (no-store, noindex), in the customer's language."""

    @customer_required
    @private
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        language = page_language(request)
        return view(request, *args, language=language, **kwargs)

    return wrapped


# --- The dashboard -----------------------------------------------------------------------


@account_page
@require_safe
def dashboard(request, *, language):
    now = timezone.now()
    premises = services.dashboard(user=request.user, account_email=_account_email(request.user))
    for group in premises:
        for row in group.rows:
            _describe(row.agreement, group.link.premise, language, now)
            row.agreement.decisions = _records_in_words(row.agreement.decisions, language)
    return render(request, "accounts/dashboard.html", {"premises": premises})


def _describe(agreement, premise, language, now):
    """What the page says of an agreement, in words: term, data window, state."""
    agreement.can_end = can_end(agreement, now)
    # No query: the decision services check the rest (a move-in, the provider's standing).
    agreement.can_decide = can_decide(agreement, now)
    agreement.term_start_words = (
        date_in_words(agreement.term_start.astimezone(CENTRAL).date(), language)
        if agreement.term_start
        else ""
    )
    agreement.term_end_words = (
        deadline_in_words(agreement.term_end, language) if agreement.term_end else ""
    )
    agreement.ended_words = (
        deadline_in_words(agreement.ended_at, language) if agreement.ended_at else ""
    )
    window = data_window(agreement, premise, now)
    agreement.window_first_words = date_in_words(window.first, language) if window else ""
    agreement.window_last_words = date_in_words(window.last, language) if window else ""
    agreement.data_from_words = (
        date_in_words(agreement.data_from, language) if agreement.data_from else ""
    )
    agreement.deadline_words = deadline_in_words(agreement.affirmation_expires_at, language)
    agreement.status_words = STATUS_WORDS.get(agreement.status, agreement.status)


def _records_in_words(records, language):
    return [
        {
            "when": deadline_in_words(record.created_at, language),
            "what": EVENT_WORDS.get(record.event, record.get_event_display()),
            "who": ACTOR_WORDS.get(record.actor_type, record.actor_type),
        }
        for record in records
    ]


# --- Premises ----------------------------------------------------------------------------


@account_page
@require_http_methods(["GET", "HEAD", "POST"])
def premise_add(request, *, language):
    form = PremiseAddForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        facts = form.cleaned_data
        try:
            outcome = services.premise_link(
                user=request.user, esi_id=facts["esi_id"], meter_number=facts["meter_number"],
                rep_certificate_number=facts["rep_certificate_number"],
                ip=client_ip(request), now=timezone.now(),
            )  # fmt: skip
        except services.PremiseChecksExhausted as exhausted:
            response = render(
                request, "accounts/premise_add.html",
                {"form": form, "refusal": "rate_limited"}, status=429,
            )  # fmt: skip
            response["Retry-After"] = str(exhausted.retry_after)
            return response
        if outcome.status in ("linked", "already_linked"):
            messages.success(request, _("The premise was added to your account."))
            return HttpResponseRedirect(reverse("accounts:dashboard"))
        form = PremiseAddForm(initial=_kept(facts))
        refusal = outcome.status  # not_authenticated or linked_elsewhere
        status = 409 if refusal == "linked_elsewhere" else 422
        return render(request, "accounts/premise_add.html",
                      {"form": form, "refusal": refusal}, status=status)  # fmt: skip
    if request.method == "POST":
        status = 400
    return render(request, "accounts/premise_add.html", {"form": form}, status=status)


def _kept(facts):
    # The ESI ID and provider stay filled in; the meter number is typed again.
    return {"esi_id": facts["esi_id"], "rep_certificate_number": facts["rep_certificate_number"]}


@account_page
@require_POST
def premise_remove(request, premise_id, *, language):
    removed = services.premise_unlink(
        user=request.user, premise_id=premise_id, ip=client_ip(request), now=timezone.now()
    )
    if not removed:
        raise Http404
    messages.success(request, _("The premise was removed from your account."))
    return HttpResponseRedirect(reverse("accounts:dashboard"))


# --- One agreement -----------------------------------------------------------------------


def _agreement_or_404(request, agreement_id):
    agreement = services.account_agreement(user=request.user, agreement_id=agreement_id)
    if agreement is None:
        raise Http404
    return agreement


def _agreement_context(request, agreement, language, now, form=None):
    premises = list(agreement.premises.select_related("premise").order_by("esi_id"))
    mine = {link.premise_id for link in services.open_links(request.user)}
    shown = next((p.premise for p in premises if p.premise_id in mine), premises[0].premise)
    _describe(agreement, shown, language, now)
    agreement.shown_email = services.address_shown(
        agreement.customer_email, _account_email(request.user)
    )
    state = affirmation_state(agreement, now)
    # A revoked provider's request is "provider_unavailable" too, but nothing is left to decide.
    deciding = state in ("pending", "provider_unavailable")
    agreement.can_decide = deciding and can_decide(agreement, now)
    context = {
        "agreement": agreement,
        "csp": agreement.csp,
        "premises": premises,
        "state": state,
        "records": _records_in_words(agreement.records.order_by("id"), language),
    }
    if agreement.can_decide:
        disclosure = affirmations.disclosure_current()
        if form is None:
            form = AffirmationForm(
                initial={"disclosure_version": getattr(disclosure, "version", None)}
            )
        context.update(
            disclosure=disclosure,
            disclosure_text=disclosure.text_for(language) if disclosure else "",
            form=form,
            term_end_if_now_words=deadline_in_words(term_end(now, agreement.term_months), language),
            data_from_words=date_in_words(affirmations.data_window_from(now=now), language),
        )
    return context


@account_page
@require_safe
def agreement_page(request, agreement_id, *, language):
    agreement = _agreement_or_404(request, agreement_id)
    context = _agreement_context(request, agreement, language, timezone.now())
    return render(request, "accounts/agreement.html", context)


def _decision(decide):
    """A POST on a pending request from the account: decide, then back to its page."""

    @account_page
    @require_POST
    @wraps(decide)
    def view(request, agreement_id, *, language):
        agreement = _agreement_or_404(request, agreement_id)
        try:
            response = decide(request, agreement, language)
        except affirmations.DecisionAlreadyMade:
            messages.info(request, _("This request was already answered; nothing was changed."))
        except (affirmations.RequestTimedOut, affirmations.CspNotActive,
                affirmations.AgreementNotOpen):  # fmt: skip
            messages.info(request, _("This request can no longer be answered."))
        else:
            if response is not None:
                return response
            messages.success(request, _("Your decision was recorded. We emailed you a receipt."))
        return HttpResponseRedirect(reverse("accounts:agreement", args=[agreement.pk]))

    return view


@_decision
def agreement_opt_in(request, agreement, language):
    form = AffirmationForm(request.POST, request=request)
    if not form.is_valid():
        context = _agreement_context(request, agreement, language, timezone.now(), form=form)
        return render(request, "accounts/agreement.html", context, status=400)
    try:
        affirmations.agreement_opt_in(
            agreement=agreement, disclosure=form.cleaned_data["disclosure"],
            actor=_actor(request), now=timezone.now(),
        )  # fmt: skip
    except affirmations.DisclosureOutdated:
        disclosure = affirmations.disclosure_current()
        form = AffirmationForm(initial={"disclosure_version": disclosure.version})
        form.changed_message = _(
            "The disclosures were updated while this page was open. Read them again, then agree."
        )
        context = _agreement_context(request, agreement, language, timezone.now(), form=form)
        return render(request, "accounts/agreement.html", context, status=409)
    return None


@_decision
def agreement_opt_out(request, agreement, language):
    affirmations.agreement_opt_out(agreement=agreement, actor=_actor(request), now=timezone.now())


@_decision
def agreement_report_spam(request, agreement, language):
    affirmations.agreement_report_spam(
        agreement=agreement, actor=_actor(request), now=timezone.now()
    )


# --- Ending an agreement at once ----------------------------------------------------------


def _already_ended(request, agreement, language):
    context = _agreement_context(request, agreement, language, timezone.now())
    return render(request, "accounts/agreement_end.html", {**context, "ended": True}, status=409)


@account_page
@require_http_methods(["GET", "HEAD", "POST"])
def agreement_end(request, agreement_id, *, language):
    """GET: the confirmation page. POST: end it now, then the receipt."""
    agreement = _agreement_or_404(request, agreement_id)
    now = timezone.now()
    if not can_end(agreement, now):
        return _already_ended(request, agreement, language)
    if request.method != "POST":
        context = _agreement_context(request, agreement, language, now)
        return render(request, "accounts/agreement_end.html", context)
    try:
        services.agreement_end_from_account(agreement=agreement, actor=_actor(request), now=now)
    except affirmations.AgreementNotOpen:
        agreement.refresh_from_db()
        return _already_ended(request, agreement, language)
    return HttpResponseRedirect(reverse("accounts:agreement-ended", args=[agreement.pk]))


@account_page
@require_safe
def agreement_ended(request, agreement_id, *, language):
    """The receipt: what was ended, when, and that the CSP was told."""
    agreement = _agreement_or_404(request, agreement_id)
    if agreement.ended_at is None:
        return HttpResponseRedirect(reverse("accounts:agreement", args=[agreement.pk]))
    context = _agreement_context(request, agreement, language, timezone.now())
    return render(request, "accounts/agreement_ended.html", context)
