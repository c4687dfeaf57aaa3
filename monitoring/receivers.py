"""Reactions to other apps' events, connected in ``MonitoringConfig.ready``."""

from csp_registry.models import CspStatus

from .emails import email_csp_suspended


def notify_suspended_csp(sender, *, csp, change, **kwargs):
    """R21: every suspension, whoever made it (a flag, a directive, the CSP
    admin), sends the notice, in the status change's transaction. A
    revocation sends nothing to the CSP."""
    if change.to_status != CspStatus.SUSPENDED:
        return
    email_csp_suspended(csp=csp, reason=change.reason, now=change.changed_at)
