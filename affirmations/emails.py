"""The emails customers receive about agreements, one function per kind.

Each is queued in the caller's transaction through the outbox and sent after
commit. Templates: ``templates/emails/<kind>/<language>/`` (subject, text and
HTML, English and Spanish). Emails carry no images and no tracking.
"""

from outbox.services import email_queue

from .calendar import deadline_in_words


def _context(agreement, premises):
    csp = agreement.csp
    return {
        "csp_name": csp.display_name,
        "csp_legal_name": csp.legal_name,
        "premises": [{"esi_id": p.esi_id, "service_address": p.service_address} for p in premises],
        "term_months": agreement.term_months,
        "confirmation_code": agreement.confirmation_code,
    }


def _queue(kind, agreement, context, now):
    return email_queue(
        kind=kind,
        to=agreement.customer_email,
        language=agreement.language,
        context=context,
        now=now,
        related_label=f"agreement:{agreement.pk}",
    )


def _request_context(agreement, premises, link_url):
    return {
        **_context(agreement, premises),
        "scope_of_use": agreement.csp.scope_of_use,
        "link_url": link_url,
        "deadline_words": deadline_in_words(agreement.affirmation_expires_at, agreement.language),
    }


def email_affirmation_request(*, agreement, premises, link_url, now):
    """The request to affirm (R4, R6): who, which premises, how long, what
    data, the confirmation code, the exact deadline, the link."""
    context = _request_context(agreement, premises, link_url)
    return _queue("affirmation_request", agreement, context, now)


def email_affirmation_reminder(*, agreement, premises, link_url, now):
    """The one reminder a CSP may ask for: the same request, the same deadline."""
    context = _request_context(agreement, premises, link_url)
    return _queue("affirmation_reminder", agreement, context, now)


def email_agreement_terminated(*, agreement, premises, was_active, now):
    """Notice that an agreement (or a pending request) was ended early."""
    context = {
        **_context(agreement, premises),
        "was_active": was_active,
        "ended_by": agreement.ended_by,
    }
    return _queue("agreement_terminated", agreement, context, now)


def email_agreement_revoked(*, agreement, premises, now):
    """Notice that the committee or the Commission ended the provider's access."""
    return _queue("agreement_revoked", agreement, _context(agreement, premises), now)
