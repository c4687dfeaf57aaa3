"""The emails customers receive about agreements, one function per kind.

Each is queued in the caller's transaction through the outbox and sent after
commit. Templates: ``templates/emails/<kind>/<language>/`` (subject, text and
HTML, English and Spanish). Emails carry no images and no tracking.
"""

from django.conf import settings
from django.utils.http import urlencode

from outbox.services import email_build, email_queue, emails_queue_many
from smt_portal.calendar import deadline_in_words, renewal_term_end

from .masking import mask_email


def csp_full_name(csp):
    """The provider as the customer should recognise it: "Brand (Legal name)"
    when it trades under another name, else the legal name once."""
    if csp.dba_name and csp.dba_name != csp.legal_name:
        return f"{csp.dba_name} ({csp.legal_name})"
    return csp.legal_name


def csp_report_url(csp):
    """The report form with this provider already chosen."""
    return f"{settings.SITE_URL}/report/?csp={csp.pk}"


def _context(agreement, premises):
    csp = agreement.csp
    return {
        "csp_name": csp.display_name,
        "csp_full_name": csp_full_name(csp),
        "csp_report_url": csp_report_url(csp),
        "premises": [{"esi_id": p.esi_id, "service_address": p.service_address} for p in premises],
        "term_months": agreement.term_months,
        "confirmation_code": agreement.confirmation_code,
    }


def related_label(agreement_id):
    """How an agreement's emails name it (``OutboundEmail.related_label``)."""
    return f"agreement:{agreement_id}"


def _queue(kind, agreement, context, now, *, to=None, deliver_until=None):
    return email_queue(
        kind=kind,
        to=to or agreement.customer_email,
        language=agreement.language,
        context=context,
        now=now,
        related_label=related_label(agreement.pk),
        deliver_until=deliver_until,
    )


def _request_context(agreement, premises, link_url):
    # The CSP's own words in the customer's language; the other one only if it
    # gave none (and then marked with ``lang``).
    scope_of_use, scope_lang = agreement.csp.scope_of_use_in(agreement.language)
    return {
        **_context(agreement, premises),
        "scope_of_use": scope_of_use,
        "scope_lang": scope_lang,
        "link_url": link_url,
        "deadline_words": deadline_in_words(agreement.affirmation_expires_at, agreement.language),
    }


def email_affirmation_request(*, agreement, premises, link_url, now):
    """The request to affirm (R4, R6): who, which premises, how long, what
    data, the confirmation code, the exact deadline, the link. Rendered, not
    saved: the request INSERTs it with the agreement's rows in one statement,
    then hands it to ``outbox.services.email_queued``."""
    context = _request_context(agreement, premises, link_url)
    return email_build(
        kind="affirmation_request",
        to=agreement.customer_email,
        language=agreement.language,
        context=context,
        now=now,
        related_label=related_label(agreement.pk),
        # Worth retrying for as long as its link can still be used.
        deliver_until=agreement.affirmation_expires_at,
    )


def email_affirmation_reminder(*, agreement, premises, link_url, now):
    """The one reminder a CSP may ask for: the same request, the same deadline."""
    context = _request_context(agreement, premises, link_url)
    deadline = agreement.affirmation_expires_at
    return _queue("affirmation_reminder", agreement, context, now, deliver_until=deadline)


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


# --- Receipts: every decision, renewal and term end (the customer keeps a copy) --------


def _words(moment, agreement):
    return deadline_in_words(moment, agreement.language) if moment else ""


def _receipt_context(agreement, premises):
    return {
        **_context(agreement, premises),
        "decided_words": _words(agreement.decided_at, agreement),
        "term_start_words": _words(agreement.term_start, agreement),
        "term_end_words": _words(agreement.term_end, agreement),
        "disclosure_version": agreement.disclosure.version if agreement.disclosure_id else None,
        "renewal_count": agreement.renewal_count,
    }


def email_receipt_opted_in(*, agreement, premises, end_url, now):
    """What the customer agreed to, the term, and how to end it (``end_url``,
    the termination link) or report the provider."""
    context = {**_receipt_context(agreement, premises), "end_url": end_url}
    return _queue("receipt_opted_in", agreement, context, now)


def email_receipt_opted_out(*, agreement, premises, now):
    """Confirms that nothing is shared."""
    return _queue("receipt_opted_out", agreement, _receipt_context(agreement, premises), now)


def email_receipt_reported_spam(*, agreement, premises, now):
    """Confirms that nothing is shared and that the report reached the portal."""
    return _queue("receipt_reported_spam", agreement, _receipt_context(agreement, premises), now)


def email_renewal_request(*, agreement, premises, renewal, link_url, now):
    """The request to renew (R12), to the address the CSP gave: one click for
    a large commercial customer, the full affirmation for everyone else."""
    context = {
        **_receipt_context(agreement, premises),
        "one_click": renewal.kind == "one_click",
        "renewal_months": renewal.term_months,
        "new_term_end_words": _words(
            renewal_term_end(agreement.term_end, renewal.term_months), agreement
        ),
        "link_url": link_url,
        "deadline_words": _words(renewal.expires_at, agreement),
    }
    return _queue(
        "renewal_request",
        agreement,
        context,
        now,
        to=renewal.customer_email,
        deliver_until=renewal.expires_at,
    )


def email_renewal_elsewhere_notice(*, agreement, premises, renewal, to, now):
    """To the address that last affirmed, when a renewal request went to another
    one (glossary, "Renewals"): which provider, which (masked) address, until
    when the link works, and a "this was not me" report link."""
    context = {
        **_receipt_context(agreement, premises),
        "new_address_masked": mask_email(renewal.customer_email),
        "deadline_words": _words(renewal.expires_at, agreement),
        "not_me_url": not_me_report_url(agreement, premises),
    }
    return _queue("renewal_elsewhere_notice", agreement, context, now, to=to)


def not_me_report_url(agreement, premises):
    """The report form with the provider and the first premise filled in, in the
    customer's language."""
    query = {"csp": agreement.csp_id, "lang": agreement.language}
    if premises:
        query["esi_id"] = premises[0].esi_id
    return f"{settings.SITE_URL}/report/?{urlencode(query)}"


def email_receipt_renewed(*, agreement, premises, renewal, end_url, now):
    """The new term end, and how to end the sharing (``end_url``) or report the provider."""
    context = {
        **_receipt_context(agreement, premises),
        "renewal_months": renewal.term_months,
        "end_url": end_url,
    }
    return _queue("receipt_renewed", agreement, context, now, to=renewal.customer_email)


def email_receipt_renewal_declined(*, agreement, premises, renewal, now):
    context = _receipt_context(agreement, premises)
    return _queue("receipt_renewal_declined", agreement, context, now, to=renewal.customer_email)


def emails_receipt_term_ended_many(*, agreements, now):
    """The term (with its renewals) ran out: no more data flows. The receipts
    of a whole sweep chunk, in one INSERT. ``agreements`` come with ``csp``
    and ``premises`` loaded."""
    return emails_queue_many(
        kind="receipt_term_ended",
        items=[
            (
                agreement.customer_email,
                agreement.language,
                _receipt_context(agreement, agreement.premises.all()),
                f"agreement:{agreement.pk}",
            )
            for agreement in agreements
        ],
        now=now,
    )


def emails_sharing_reminder_many(*, reminders, now):
    """Reminders (glossary): "you are still sharing with X; here is how to
    stop", for a whole sweep chunk in one INSERT. ``reminders`` are
    ``(agreement, end_url, ending)``: ``end_url`` a new termination link,
    ``ending`` true for the notice before the term ends. The agreements come
    with ``csp`` and ``premises`` loaded."""
    return emails_queue_many(
        kind="sharing_reminder",
        items=[
            (
                agreement.customer_email,
                agreement.language,
                {**_receipt_context(agreement, agreement.premises.all()),
                 "end_url": end_url, "ending": ending},
                f"agreement:{agreement.pk}",
            )
            for agreement, end_url, ending in reminders
        ],
        now=now,
    )  # fmt: skip


# --- A move-in ends consent (glossary, B13) ---------------------------------------------


def emails_agreement_occupant_changed_many(*, agreements, was_active, now):
    """The former customer is told that their agreement (or pending request)
    ended because a new customer moved in; one INSERT for the whole chunk.
    ``agreements`` come with ``csp`` and ``premises`` loaded; ``was_active``
    maps each id to whether it was active."""
    return emails_queue_many(
        kind="agreement_occupant_changed",
        items=[
            (
                agreement.customer_email,
                agreement.language,
                {**_context(agreement, agreement.premises.all()),
                 "was_active": was_active[agreement.pk]},
                f"agreement:{agreement.pk}",
            )
            for agreement in agreements
        ],
        now=now,
    )  # fmt: skip


def emails_csp_occupant_changed_many(*, notices, now):
    """Each CSP is told, at its notice address, which of its agreements a
    move-in ended: one email per CSP, one INSERT. ``notices`` are ``(csp,
    agreements)`` with ``agreements`` as ``{"id", "confirmation_code",
    "premises": [{"esi_id", "occupant_since"}]}``."""
    return emails_queue_many(
        kind="csp_occupant_changed",
        items=[
            (
                csp.notice_email,
                "en",
                {"csp_name": csp.display_name, "legal_name": csp.legal_name,
                 "agreements": agreements, "ended_at": now},
                f"csp:{csp.pk}",
            )
            for csp, agreements in notices
        ],
        now=now,
    )  # fmt: skip


def email_csp_ended_by_customer(*, agreement, now):
    """The CSP is told at its notice address that the customer ended an agreement
    (by the receipt's link or from their account): its data access stopped."""
    csp = agreement.csp
    return email_queue(
        kind="csp_agreement_ended_by_customer",
        to=csp.notice_email,
        language="en",
        context={
            "csp_name": csp.display_name,
            "legal_name": csp.legal_name,
            "agreement_id": agreement.pk,
            "confirmation_code": agreement.confirmation_code,
            "esi_ids": list(agreement.premises.order_by("esi_id").values_list("esi_id", flat=True)),
            "ended_at": agreement.ended_at or now,
        },
        now=now,
        related_label=f"csp:{csp.pk}",
    )
