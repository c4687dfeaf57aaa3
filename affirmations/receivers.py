"""Reactions to other apps' events, connected in ``AffirmationsConfig.ready``."""

from csp_registry.models import CspStatus
from smt_portal.actors import Actor

from .services import agreements_revoke_for_csp


def revoke_agreements_of_revoked_csp(sender, *, csp, change, **kwargs):
    """Glossary: when a CSP is revoked, every pending and active agreement of
    it becomes ``revoked`` at once. Runs inside the status change's
    transaction, so both commit together. A later explicit call (e.g. for a
    Commission directive) finds nothing left to revoke."""
    if change.to_status != CspStatus.REVOKED:
        return
    if change.changed_by is not None:
        actor = Actor.staff(change.changed_by)
    else:
        actor = Actor.system(change.actor or "csp registry")
    agreements_revoke_for_csp(
        csp=csp, actor=actor, reason=change.reason or "CSP revoked", now=change.changed_at
    )
