"""The people of a CSP's portal: invitations, members and their roles, the record.

An invitation is an emailed link ``/csp/invitations/<token>/``; the token is
only in the email (sealed in the outbox, ``smt_portal.sealed_tokens``), the
database keeps its SHA-256. Accepting it makes the person a member with the
invited role. Every change here, and every sign-in of a member, is a
``CspPortalEvent`` (who, from where, the addresses masked).
"""

from datetime import timedelta

from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction

from affirmations.masking import mask_email
from csp_registry.models import CspStatus
from outbox.services import email_queue
from smt_portal.actors import Actor
from smt_portal.sealed_tokens import sealed_token_new, token_hash

from .models import CspInvitation, CspMember, CspPortalEvent, CspRole

INVITATION_VALID_FOR = timedelta(days=7)
TOKEN_PURPOSE = "csp_invitation"  # noqa: S105 (a label, not a secret)


class PeopleError(Exception):
    """A change the rules refuse; ``str()`` is the message for people."""


LAST_ADMIN = "Your portal needs at least one admin: make another user admin first."


class EventKind:
    SIGNED_IN = "signed_in"
    INVITATION_SENT = "invitation_sent"
    INVITATION_ACCEPTED = "invitation_accepted"
    INVITATION_REVOKED = "invitation_revoked"
    ROLE_CHANGED = "role_changed"
    MEMBER_REMOVED = "member_removed"


EVENT_WORDS = {
    EventKind.SIGNED_IN: "Signed in",
    EventKind.INVITATION_SENT: "Invitation sent",
    EventKind.INVITATION_ACCEPTED: "Invitation accepted",
    EventKind.INVITATION_REVOKED: "Invitation revoked",
    EventKind.ROLE_CHANGED: "Role changed",
    EventKind.MEMBER_REMOVED: "User removed",
}


def portal_event_record(*, csp, kind, now, actor, details=None):
    """One line of the CSP's record; ``actor.user`` is who (None for staff or the system)."""
    user = actor.user if actor.user is not None and actor.type == "csp" else None
    return CspPortalEvent.objects.create(
        csp=csp, user=user, kind=kind, at=now, ip=actor.ip, details=details or {}
    )


# --- Invitations ------------------------------------------------------------------


def invitation_send(*, csp, email, role, now, actor):
    """Invite ``email`` to ``csp``'s portal with ``role``: one emailed, sealed,
    expiring link. An earlier pending invitation of the same address is revoked."""
    email = (email or "").strip()
    if role not in CspRole.values:
        raise PeopleError("Choose a role: admin, agent or viewer.")
    if not email:
        raise PeopleError("Enter the email address of the person to invite.")
    if CspMember.objects.filter(
        csp=csp, removed_at__isnull=True, user__email__iexact=email
    ).exists():
        raise PeopleError("This address already belongs to a user of your portal.")
    placeholder, hashed = sealed_token_new(TOKEN_PURPOSE)
    expires_at = now + INVITATION_VALID_FOR
    with transaction.atomic():
        CspInvitation.objects.filter(
            csp=csp,
            email__iexact=email,
            accepted_at__isnull=True,
            revoked_at__isnull=True,
        ).update(revoked_at=now)
        invitation = CspInvitation.objects.create(
            csp=csp,
            email=email,
            role=role,
            token_hash=hashed,
            created_at=now,
            expires_at=expires_at,
            invited_by=actor.user if actor.type == "csp" else None,
        )
        email_queue(
            kind="csp_invitation",
            to=email,
            language="en",
            context={
                "csp_name": csp.display_name,
                "role": CspRole(role).label,
                "token": placeholder,
                "expires_at": expires_at,
            },
            now=now,
            related_label=f"csp:{csp.pk}",
            deliver_until=expires_at,
        )
        portal_event_record(
            csp=csp,
            kind=EventKind.INVITATION_SENT,
            now=now,
            actor=actor,
            details={"invitation": invitation.pk, "email": mask_email(email), "role": role},
        )
    return invitation


def csp_first_admin_invite(*, csp, now, actor):
    """Subscriber of ``csp_registry.services.csp_approved_subscribe``: the
    applicant's contact is invited as the CSP's first admin."""
    return invitation_send(
        csp=csp, email=csp.contact_email, role=CspRole.ADMIN, now=now, actor=actor
    )


def invitation_find(*, token):
    """The invitation a link's token stands for, whatever its state, or None."""
    if not token or len(token) > 100:
        return None
    return CspInvitation.objects.select_related("csp").filter(token_hash=token_hash(token)).first()


def invitation_open(invitation, now):
    """True while the invitation can still be accepted."""
    return (
        invitation is not None
        and invitation.accepted_at is None
        and invitation.revoked_at is None
        and invitation.expires_at > now
        and invitation.csp.status in (CspStatus.ACTIVE, CspStatus.SUSPENDED)
    )


def invitation_accept(*, invitation, user, now, actor):
    """``user`` becomes a member of the invitation's CSP with its role.

    The invitation is used once (a conditional UPDATE); a user belongs to one
    CSP at a time."""
    if user.email.lower() != invitation.email.lower():
        raise PeopleError("This invitation was sent to another email address.")
    current = CspMember.objects.filter(user=user).first()
    if current is not None and current.removed_at is None:
        raise PeopleError("This account is already a user of a provider's portal.")
    with transaction.atomic():
        used = CspInvitation.objects.filter(
            pk=invitation.pk,
            accepted_at__isnull=True,
            revoked_at__isnull=True,
            expires_at__gt=now,
            csp__status__in=[CspStatus.ACTIVE, CspStatus.SUSPENDED],
        ).update(accepted_at=now)
        if not used:
            raise PeopleError("This invitation has expired, was withdrawn or was used already.")
        if current is None:
            member = CspMember.objects.create(
                csp_id=invitation.csp_id, user=user, role=invitation.role, created_at=now
            )
        else:  # a former member, invited again
            CspMember.objects.filter(pk=current.pk).update(
                csp_id=invitation.csp_id, role=invitation.role, created_at=now, removed_at=None
            )
            member = CspMember.objects.get(pk=current.pk)
        portal_event_record(
            csp=invitation.csp,
            kind=EventKind.INVITATION_ACCEPTED,
            now=now,
            actor=_as_user(actor, invitation.csp, user),
            details={
                "invitation": invitation.pk,
                "email": mask_email(invitation.email),
                "role": invitation.role,
            },
        )
    return member


def invitation_accept_new_account(*, invitation, password, now, actor):
    """A new account for the invited address (proven: the link reached it),
    then ``invitation_accept``."""
    User = get_user_model()
    if User.objects.filter(email__iexact=invitation.email).exists():
        raise PeopleError("An account with this address exists: sign in to accept.")
    with transaction.atomic():
        try:
            user = User.objects.create_user(
                username=_free_username(invitation.email),
                email=invitation.email,
                password=password,
            )
        except IntegrityError as exc:
            raise PeopleError("An account with this address exists: sign in to accept.") from exc
        EmailAddress.objects.create(user=user, email=invitation.email, verified=True, primary=True)
        invitation_accept(invitation=invitation, user=user, now=now, actor=actor)
    return user


def _free_username(email):
    User = get_user_model()
    base = email.lower()[:140]
    name, n = base, 1
    while User.objects.filter(username=name).exists():
        n += 1
        name = f"{base}-{n}"
    return name


def _as_user(actor, csp, user):
    return Actor.csp_user(csp, user, ip=actor.ip, user_agent=actor.user_agent)


def invitation_revoke(*, invitation, now, actor):
    """Withdraw a pending invitation: its link opens nothing any more."""
    revoked = CspInvitation.objects.filter(
        pk=invitation.pk, accepted_at__isnull=True, revoked_at__isnull=True
    ).update(revoked_at=now)
    if not revoked:
        raise PeopleError("This invitation was accepted or withdrawn already.")
    portal_event_record(
        csp=invitation.csp,
        kind=EventKind.INVITATION_REVOKED,
        now=now,
        actor=actor,
        details={"invitation": invitation.pk, "email": mask_email(invitation.email)},
    )


# --- Members ------------------------------------------------------------------------


def members_current(csp):
    return (
        CspMember.objects.filter(csp=csp, removed_at__isnull=True)
        .select_related("user")
        .order_by("created_at", "pk")
    )


def invitations_pending(csp, now):
    return CspInvitation.objects.filter(
        csp=csp, accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=now
    ).order_by("-created_at")


def _other_admins(member):
    return (
        CspMember.objects.select_for_update()
        .filter(csp_id=member.csp_id, role=CspRole.ADMIN, removed_at__isnull=True)
        .exclude(pk=member.pk)
        .exists()
    )


def member_role_change(*, member, role, now, actor):
    """Give ``member`` another role; the CSP keeps at least one admin."""
    if role not in CspRole.values:
        raise PeopleError("Choose a role: admin, agent or viewer.")
    with transaction.atomic():
        member = CspMember.objects.select_for_update().get(pk=member.pk)
        if member.removed_at is not None:
            raise PeopleError("This user was removed already.")
        if member.role == role:
            return member
        if member.role == CspRole.ADMIN and not _other_admins(member):
            raise PeopleError(LAST_ADMIN)
        before = member.role
        CspMember.objects.filter(pk=member.pk).update(role=role)
        member.role = role
        portal_event_record(
            csp=member.csp,
            kind=EventKind.ROLE_CHANGED,
            now=now,
            actor=actor,
            details={
                "member": member.pk,
                "email": mask_email(member.user.email),
                "from": before,
                "to": role,
            },
        )
    return member


def member_remove(*, member, now, actor):
    """End ``member``'s access to the portal (the record keeps them); never the last admin."""
    with transaction.atomic():
        member = CspMember.objects.select_for_update().get(pk=member.pk)
        if member.role == CspRole.ADMIN and not _other_admins(member):
            raise PeopleError(LAST_ADMIN)
        removed = CspMember.objects.filter(pk=member.pk, removed_at__isnull=True).update(
            removed_at=now
        )
        if not removed:
            raise PeopleError("This user was removed already.")
        portal_event_record(
            csp=member.csp,
            kind=EventKind.MEMBER_REMOVED,
            now=now,
            actor=actor,
            details={"member": member.pk, "email": mask_email(member.user.email)},
        )


# --- Sign-ins -------------------------------------------------------------------------


def member_signed_in_record(*, member, now, actor):
    return portal_event_record(
        csp=member.csp,
        kind=EventKind.SIGNED_IN,
        now=now,
        actor=actor,
        details={"email": mask_email(member.user.email)},
    )
