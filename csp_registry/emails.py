"""The emails of the CSP registry, one function per kind.

Each is queued in the caller's transaction and sent after it commits.
Templates: ``templates/emails/<kind>/<language>/``.
"""

from outbox.services import email_queue


def _context(csp):
    return {
        "csp_name": csp.display_name,
        "legal_name": csp.legal_name,
        "contact_name": csp.contact_name,
    }


def application_received(*, csp, language, now):
    return email_queue(
        kind="csp_application_received",
        to=csp.contact_email,
        language=language,
        context=_context(csp),
        now=now,
        related_label=f"csp:{csp.pk}",
    )


def application_approved(*, csp, now, language="en"):
    return email_queue(
        kind="csp_application_approved",
        to=csp.contact_email,
        language=language,
        context=_context(csp),
        now=now,
        related_label=f"csp:{csp.pk}",
    )


def application_rejected(*, csp, reason, now, language="en"):
    return email_queue(
        kind="csp_application_rejected",
        to=csp.contact_email,
        language=language,
        context={**_context(csp), "reason": reason},
        now=now,
        related_label=f"csp:{csp.pk}",
    )
