"""The emails of monitoring and enforcement, one function per kind.

Queued in the caller's transaction and sent after it commits. Templates:
``templates/emails/<kind>/<language>/``.
"""

from django.conf import settings

from outbox.services import email_queue

# Where a suspended CSP answers; the committee's own address in production.
DEFAULT_COMMITTEE_EMAIL = "committee@smt-portal.example"


def email_csp_suspended(*, csp, reason, now, language="en"):
    """R21: the suspension notice, to the address the CSP registered for notices."""
    return email_queue(
        kind="csp_suspended",
        to=csp.notice_email,
        language=language,
        context={
            "csp_name": csp.display_name,
            "legal_name": csp.legal_name,
            "reason": reason,
            "suspended_at": now,
            "committee_email": getattr(settings, "COMMITTEE_EMAIL", DEFAULT_COMMITTEE_EMAIL),
        },
        now=now,
        related_label=f"csp:{csp.pk}",
    )
