"""The customer's pages: the affirmation (``/affirm/``) and the renewal (``/renew/``).

Mail scanners open links, so a GET never changes anything; every decision is
its own POST (CSRF-protected) calling one service. The token leaves the URL at
once: ``/affirm/<token>/`` finds the link by the token's hash, remembers the
link in the session and redirects to the token-free ``/affirm/``, so the token
reaches no access log, history entry or ``Referer`` beyond that first request.
The session may hold several links (a customer with two requests open in two
tabs); each form names the link it is about, and only a link the session
opened is accepted.
"""

from functools import wraps

from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from premises.models import TermPolicy
from smt_portal.actors import Actor
from smt_portal.calendar import date_in_words, deadline_in_words, renewal_term_end, term_end
from smt_portal.client_ip import client_ip

from . import services
from .forms import AffirmationForm
from .language import page_language
from .models import AgreementLink, LinkPurpose, RenewalKind
from .rules import affirmation_state, renewal_state, termination_state

MAX_LINKS_IN_SESSION = 10
# The token-free page of each kind of link (``LinkPurpose``).
_PAGES = {
    "affirmation": "affirmations:affirmation",
    "renewal": "affirmations:renewal",
    "termination": "affirmations:termination",
}


def private(view=None, *, referrer_policy="same-origin"):
    """These pages concern one customer: keep them out of caches and search
    engines, and their addresses out of other sites' ``Referer``.

    The link views, whose URL carries the token, send ``no-referrer`` (a
    redirect's policy also governs the request it leads to). The token-free
    pages send ``same-origin``: with ``no-referrer`` browsers send
    ``Origin: null`` on a form POST, which CSRF protection rightly refuses.
    """

    def decorate(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            response = view(request, *args, **kwargs)
            response["Cache-Control"] = "no-store"
            response["Referrer-Policy"] = referrer_policy
            response["X-Robots-Tag"] = "noindex, nofollow"
            return response

        return wrapped

    return decorate(view) if view is not None else decorate


def link_not_found(request):
    """One neutral page for an unknown, used or malformed link: it says
    nothing about whether the token ever existed."""
    page_language(request)
    return render(request, "affirmations/link_not_found.html", status=404)


# --- Links kept in the session -------------------------------------------------------


def _remember(request, kind, link):
    # Holding a link in the session is what lets its POSTs act: the session
    # gets a new key here, so a session id planted in the customer's browser
    # beforehand (session fixation) never gains that power.
    request.session.cycle_key()
    key = f"{kind}_links"
    links = [pk for pk in request.session.get(key, []) if pk != link.pk]
    request.session[key] = [*links, link.pk][-MAX_LINKS_IN_SESSION:]
    request.session[f"{kind}_current"] = link.pk


def _session_link(request, kind, pk):
    if pk is None or pk not in request.session.get(f"{kind}_links", []):
        return None
    return (
        AgreementLink.objects.select_related("agreement__csp", "renewal")
        .filter(pk=pk, purpose=kind)  # each kind of page is named after its links' purpose
        .first()
    )


def current_link(request, kind):
    return _session_link(request, kind, request.session.get(f"{kind}_current"))


def _posted_link(request, kind):
    try:
        pk = int(request.POST.get("link", ""))
    except ValueError:
        return None
    link = _session_link(request, kind, pk)
    if link is not None:
        request.session[f"{kind}_current"] = link.pk
    return link


def _notice(request, kind, value=None):
    """Set (``value``) or take the one-time notice shown after a POST."""
    key = f"{kind}_notice"
    if value is not None:
        request.session[key] = value
        return value
    return request.session.pop(key, "")


def _customer(request):
    """The customer deciding, as the record names them: from where, with what browser."""
    actor = Actor.customer(ip=client_ip(request), user_agent=request.headers.get("User-Agent", ""))
    return {"actor": actor}


# --- The affirmation ---------------------------------------------------------------------


@private(referrer_policy="no-referrer")
@require_safe
def affirmation_link(request, token):
    """``/affirm/<token>/``: check the token, move it into the session, redirect."""
    link = services.agreement_link_find(token=token)
    if link is None:
        return link_not_found(request)
    state = affirmation_state(link.agreement, timezone.now())
    opened_before = link.pk in request.session.get("affirmation_links", [])
    # A used link opens nothing, except for the browser that used it.
    if state == "closed" or (state == "decided" and not opened_before):
        return link_not_found(request)
    _remember(request, "affirmation", link)
    return HttpResponseRedirect(reverse("affirmations:affirmation"))


@private
@require_safe
def affirmation_page(request):
    link = current_link(request, "affirmation")
    if link is None:
        return link_not_found(request)
    return _affirmation_render(request, link, notice=_notice(request, "affirmation"))


def _affirmation_render(request, link, *, form=None, notice="", status=200):
    agreement = link.agreement
    language = page_language(request, agreement)
    now = timezone.now()
    state = affirmation_state(agreement, now)
    if state == "closed":
        return link_not_found(request)
    context = {
        "link": link,
        "agreement": agreement,
        "csp": agreement.csp,
        "premises": list(agreement.premises.all()),
        "state": state,
        "notice": notice,
        "page_path": reverse("affirmations:affirmation"),
        "deadline_words": deadline_in_words(agreement.affirmation_expires_at, language),
    }
    if state in ("pending", "provider_unavailable"):
        context.update(_pending_context(agreement, language, now, form))
        context["long_term"] = _long_term(agreement, context["premises"], language)
    if state == "decided":
        context.update(_decided_context(agreement, language))
        context["can_stop"] = _termination_link_of(agreement, now) is not None
    template = "affirmations/affirm_%s.html" % ("timed_out" if state == "timed_out" else "page")
    if state == "timed_out":
        status = 410
    return render(request, template, context, status=status)


def _pending_context(agreement, language, now, form):
    disclosure = services.disclosure_current()
    if form is None:
        form = AffirmationForm(initial={"disclosure_version": getattr(disclosure, "version", None)})
    return {
        "disclosure": disclosure,
        "disclosure_text": disclosure.text_for(language) if disclosure else "",
        "form": form,
        "term_end_if_now_words": deadline_in_words(term_end(now, agreement.term_months), language),
        "data_from_words": date_in_words(services.data_window_from(now=now), language),
    }


def _long_term(agreement, premises, language):
    """Why a term beyond the standard limit is allowed (R11): every premise is
    large commercial. ``None`` when the term is within the standard limit."""
    policy = TermPolicy.current()
    if agreement.term_months <= policy.standard_max_months or not premises:
        return None
    if not all(p.large_commercial for p in premises):
        return None
    return {
        "standard": policy.standard_max_months,
        "large": max(policy.large_commercial_max_months, agreement.term_months),
        # 15,000 in English, 15.000 in Spanish.
        "kwh": f"{int(policy.large_commercial_threshold_kwh):,}".replace(
            ",", "." if language == "es" else ","
        ),
    }


def _termination_link_of(agreement, now):
    """The agreement's latest emailed "Stop sharing" link, while it can still end it."""
    if termination_state(agreement, now) != "active":
        return None
    return (
        AgreementLink.objects.filter(agreement=agreement, purpose=LinkPurpose.TERMINATION)
        .order_by("-pk")
        .first()
    )


def _decided_context(agreement, language):
    return {
        "decided_words": deadline_in_words(agreement.decided_at, language),
        "term_end_words": (
            deadline_in_words(agreement.term_end, language) if agreement.term_end else ""
        ),
    }


def _decision_view(decide, *, allowed=("pending",)):
    """A POST action: find the session's link, check that the request can
    still be decided (else show what happened), decide, redirect (PRG)."""

    @private
    @require_POST
    @wraps(decide)
    def view(request):
        link = _posted_link(request, "affirmation")
        if link is None:
            return link_not_found(request)
        page_language(request, link.agreement)
        state = affirmation_state(link.agreement, timezone.now())
        if state not in allowed:
            if state == "decided":
                _notice(request, "affirmation", "already_decided")
            return HttpResponseRedirect(reverse("affirmations:affirmation"))
        return decide(request, link)

    return view


def _after(request, kind, call):
    """Run a decision service; the redirected page shows what happened."""
    try:
        call()
    except services.DecisionAlreadyMade:
        _notice(request, kind, "already_decided")
    except (services.RequestTimedOut, services.CspNotActive, services.RenewalNotPending):
        pass  # the page shows the state: timed out, provider unavailable, ended
    except services.AgreementNotOpen:
        _notice(request, kind, "agreement_ended")
    else:
        _notice(request, kind, "decided")
    return HttpResponseRedirect(reverse(_PAGES[kind]))


def _opt_in(request, link):
    form = AffirmationForm(request.POST, request=request)
    if not form.is_valid():
        return _affirmation_render(request, link, form=form, status=400)
    call = _call(
        services.agreement_opt_in, request, agreement=link.agreement,
        disclosure=form.cleaned_data["disclosure"],
    )  # fmt: skip
    try:
        return _after(request, "affirmation", call)
    except services.DisclosureOutdated:
        return _disclosure_changed(request, link, _affirmation_render)


def _call(service, request, **kwargs):
    def call():
        return service(**kwargs, **_customer(request), now=timezone.now())

    return call


def _disclosure_changed(request, link, render_page):
    form = AffirmationForm(initial={"disclosure_version": services.disclosure_current().version})
    form.changed_message = _(
        "The disclosures were updated while this page was open. Read them again, then agree."
    )
    return render_page(request, link, form=form, status=409)


def _opt_out(request, link):
    call = _call(services.agreement_opt_out, request, agreement=link.agreement)
    return _after(request, "affirmation", call)


def _report_spam(request, link):
    call = _call(services.agreement_report_spam, request, agreement=link.agreement)
    return _after(request, "affirmation", call)


# Saying no needs no standing: a suspended provider can still be refused or reported.
_SAYING_NO = ("pending", "provider_unavailable")
affirmation_opt_in = _decision_view(_opt_in)
affirmation_opt_out = _decision_view(_opt_out, allowed=_SAYING_NO)
affirmation_report_spam = _decision_view(_report_spam, allowed=_SAYING_NO)


def _stop_view(kind):
    """``/affirm/stop/`` and ``/renew/stop/``: "Changed your mind? Stop sharing now".

    Only a browser that holds the agreement's affirmation (or renewal) link in
    its session, that is, one that opened the emailed token, gets its
    termination link too; the token itself is never shown. A GET changes
    nothing but the session: the customer still confirms on ``/end/``.
    """

    @private
    @require_safe
    def view(request):
        try:
            pk = int(request.GET.get("link", ""))
        except ValueError:
            return link_not_found(request)
        link = _session_link(request, kind, pk)
        if link is None:
            return link_not_found(request)
        end_link = _termination_link_of(link.agreement, timezone.now())
        if end_link is None:
            return HttpResponseRedirect(reverse(_PAGES[kind]))
        _remember(request, "termination", end_link)
        return HttpResponseRedirect(reverse("affirmations:termination"))

    view.__name__ = f"{kind}_stop"
    return view


affirmation_stop = _stop_view("affirmation")
renewal_stop = _stop_view("renewal")


# --- The renewal (R12) -------------------------------------------------------------------


@private(referrer_policy="no-referrer")
@require_safe
def renewal_link(request, token):
    """``/renew/<token>/``: like the affirmation link; a GET never renews."""
    link = services.renewal_link_find(token=token)
    if link is None:
        return link_not_found(request)
    state = renewal_state(link.renewal, link.agreement, timezone.now())
    opened_before = link.pk in request.session.get("renewal_links", [])
    if state in ("renewed", "declined") and not opened_before:
        return link_not_found(request)
    _remember(request, "renewal", link)
    return HttpResponseRedirect(reverse("affirmations:renewal"))


@private
@require_safe
def renewal_page(request):
    link = current_link(request, "renewal")
    if link is None:
        return link_not_found(request)
    return _renewal_render(request, link, notice=_notice(request, "renewal"))


def _renewal_render(request, link, *, form=None, notice="", status=200):
    agreement, renewal = link.agreement, link.renewal
    language = page_language(request, agreement)
    now = timezone.now()
    state = renewal_state(renewal, agreement, now)
    context = {
        "link": link,
        "agreement": agreement,
        "renewal": renewal,
        "csp": agreement.csp,
        "premises": agreement.premises.all(),
        "state": state,
        "notice": notice,
        "page_path": reverse("affirmations:renewal"),
        "one_click": renewal.kind == RenewalKind.ONE_CLICK,
        "deadline_words": deadline_in_words(renewal.expires_at, language),
        "term_end_words": deadline_in_words(agreement.term_end, language),
    }
    if state == "renewed":
        context["can_stop"] = _termination_link_of(agreement, now) is not None
    if state == "pending":
        new_end = renewal_term_end(agreement.term_end, renewal.term_months)
        context["new_term_end_words"] = deadline_in_words(new_end, language)
        context["long_term"] = _long_term(agreement, list(context["premises"]), language)
        if renewal.kind == RenewalKind.FULL_AFFIRMATION:
            context.update(_pending_context(agreement, language, now, form))
    return render(request, "affirmations/renew_page.html", context, status=status)


def _renewal_action(act):
    @private
    @require_POST
    @wraps(act)
    def view(request):
        link = _posted_link(request, "renewal")
        if link is None:
            return link_not_found(request)
        page_language(request, link.agreement)
        if renewal_state(link.renewal, link.agreement, timezone.now()) != "pending":
            return HttpResponseRedirect(reverse("affirmations:renewal"))
        return act(request, link)

    return view


def _renew(request, link):
    renewal = link.renewal
    if renewal.kind == RenewalKind.ONE_CLICK:
        # R12: a large commercial customer renews with one click and nothing more.
        return _after(request, "renewal", _call(services.agreement_renew, request, renewal=renewal))
    form = AffirmationForm(request.POST, request=request)
    if not form.is_valid():
        return _renewal_render(request, link, form=form, status=400)
    call = _call(
        services.agreement_renew, request, renewal=renewal,
        disclosure=form.cleaned_data["disclosure"],
    )  # fmt: skip
    try:
        return _after(request, "renewal", call)
    except services.DisclosureOutdated:
        return _disclosure_changed(request, link, _renewal_render)


def _decline_renewal(request, link):
    call = _call(services.agreement_renewal_decline, request, renewal=link.renewal)
    return _after(request, "renewal", call)


renewal_renew = _renewal_action(_renew)
renewal_decline = _renewal_action(_decline_renewal)


# --- Ending the sharing (the link in the opt-in and renewal receipts) -------------------
#
# The customer has no account, so the receipt carries a sealed link. Like the
# others it moves into the session at once, and only its POST ends anything.


@private(referrer_policy="no-referrer")
@require_safe
def termination_link(request, token):
    """``/end/<token>/``: check the token, move it into the session, redirect."""
    link = services.termination_link_find(token=token)
    if link is None:
        return link_not_found(request)
    opened_before = link.pk in request.session.get("termination_links", [])
    # One use: once the agreement ended, the link opens nothing, except for the
    # browser that used it.
    if termination_state(link.agreement, timezone.now()) != "active" and not opened_before:
        return link_not_found(request)
    _remember(request, "termination", link)
    return HttpResponseRedirect(reverse("affirmations:termination"))


@private
@require_safe
def termination_page(request):
    link = current_link(request, "termination")
    if link is None:
        return link_not_found(request)
    agreement = link.agreement
    language = page_language(request, agreement)
    context = {
        "link": link,
        "agreement": agreement,
        "csp": agreement.csp,
        "premises": agreement.premises.all(),
        "state": termination_state(agreement, timezone.now()),
        "notice": _notice(request, "termination"),
        "page_path": reverse("affirmations:termination"),
        "term_end_words": deadline_in_words(agreement.term_end, language),
        "ended_words": deadline_in_words(agreement.ended_at, language)
        if agreement.ended_at
        else "",
    }
    return render(request, "affirmations/end_page.html", context)


@private
@require_POST
def termination_confirm(request):
    link = _posted_link(request, "termination")
    if link is None:
        return link_not_found(request)
    if termination_state(link.agreement, timezone.now()) != "active":
        return HttpResponseRedirect(reverse("affirmations:termination"))
    return _after(
        request, "termination", _call(services.agreement_end_by_customer, request, link=link)
    )
