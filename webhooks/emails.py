"""The emails of the webhooks, one function per kind (queued in the caller's transaction)."""

from urllib.parse import urlsplit

from outbox.services import email_queue


def shown_url(url):
    """The endpoint's address without its query: a query may carry the CSP's own token."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def endpoint_disabled(*, endpoint, last_attempt, now, language="en"):
    csp = endpoint.csp
    return email_queue(
        kind="webhook_endpoint_disabled",
        to=csp.contact_email,
        language=language,
        context={
            "csp_name": csp.display_name,
            "endpoint_id": endpoint.pk,
            "endpoint_url": shown_url(endpoint.url),
            "failing_since": endpoint.failing_since,
            "disabled_at": now,
            "last_error": last_attempt.error if last_attempt else "",
        },
        now=now,
        related_label=f"csp:{csp.pk}",
    )
