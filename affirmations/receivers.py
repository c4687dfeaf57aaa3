"""Reactions to other apps' events, connected in ``AffirmationsConfig.ready``."""

from csp_registry.models import CspStatus
from smt_portal.actors import ActorType

from .models import EndedBy
from .services import agreements_revoke_for_csp


def revoke_agreements_of_revoked_csp(sender, *, csp, change, actor, **kwargs):
    """Glossary: when a CSP is revoked, every pending and active agreement of
    it becomes ``revoked`` at once. The one place this happens, whoever
    revoked the CSP (the CSP admin, a red flag, a Commission directive): it
    runs inside the status change's transaction, so both commit together."""
    if change.to_status != CspStatus.REVOKED:
        return
    ended_by = EndedBy.COMMISSION if actor.type == ActorType.COMMISSION else EndedBy.COMMITTEE
    agreements_revoke_for_csp(
        csp=csp, actor=actor, reason=change.reason or "CSP revoked", now=change.changed_at,
        ended_by=ended_by,
    )  # fmt: skip
