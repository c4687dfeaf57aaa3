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


def application_reference(csp):
    """The portal's own reference for an application, safe to repeat anywhere."""
    return f"CSP-{csp.pk:06d}"


def application_received(*, csp, language, now):
    # Sent to whatever address the anonymous form was given, before anyone has
    # reviewed it: nothing the applicant wrote (names, free text) goes in it,
    # or the portal would carry a stranger's words to any inbox.
    return email_queue(
        kind="csp_application_received",
        to=csp.contact_email,
        language=language,
        context={"reference": application_reference(csp)},
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
