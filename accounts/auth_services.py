"""Sign-up, sign-in and the account's own changes, around django-allauth.

allauth does the authentication (passwords, emailed codes, email verification,
rate limits, second factor); this module records what happened to an account
(``AccountEvent``: masked address, client IP, never a secret), deletes an
account without touching the record of decisions, and queues allauth's emails
in the portal's outbox with their keys and codes sealed
(``smt_portal.sealed_tokens``): the stored email shows a placeholder, the code
is opened only when the email is sent.
"""

from datetime import timedelta

from allauth.account import app_settings as allauth_settings
from django.conf import settings
from django.db import transaction
from django.urls import reverse

from affirmations.masking import mask_email
from outbox.services import email_queue
from smt_portal.sealed_tokens import sealed_value_new

from .models import AccountEvent, AccountEventKind, PremiseLink

ACCOUNT_DELETED = "account_deleted"


class AccountNotDeletable(Exception):
    """Staff accounts are managed in the admin, not deleted from /account/."""


# --- What happened to an account ---------------------------------------------------------


def account_event_record(*, user, kind, actor, now, details=None):
    return AccountEvent.objects.create(
        user=user, account_ref=user.pk, kind=kind, at=now, ip=actor.ip, details=details or {}
    )


def account_signed_up(*, user, actor, now):
    return account_event_record(
        user=user,
        kind=AccountEventKind.SIGNED_UP,
        actor=actor,
        now=now,
        details={"email": mask_email(user.email)},
    )


def account_email_changed(*, user, from_email, to_email, actor, now):
    """The new address is proven (allauth replaced the old one only then)."""
    return account_event_record(
        user=user,
        kind=AccountEventKind.EMAIL_CHANGED,
        actor=actor,
        now=now,
        details={"from": mask_email(from_email), "to": mask_email(to_email)},
    )


def account_signed_out(*, user, actor, now):
    return account_event_record(user=user, kind=AccountEventKind.SIGNED_OUT, actor=actor, now=now)


def account_password_reset(*, user, actor, now):
    return account_event_record(
        user=user,
        kind=AccountEventKind.PASSWORD_RESET,
        actor=actor,
        now=now,
        details={"email": mask_email(user.email)},
    )


def account_delete(*, user, actor, now):
    """Delete a customer's account: its sign-in (user, addresses, second factor)
    goes; its premise links are closed ("account_deleted") and the deletion is
    recorded, both as AccountEvents that outlive it. Agreements and the record
    of decisions (``affirmations``) are never touched: they were never the
    account's, they belong to the premise and its CSPs."""
    if user.is_staff or user.is_superuser:
        raise AccountNotDeletable
    with transaction.atomic():
        links = list(
            PremiseLink.objects.select_for_update().filter(user=user, unlinked_at__isnull=True)
        )
        PremiseLink.objects.filter(pk__in=[link.pk for link in links]).update(
            unlinked_at=now, unlink_reason=ACCOUNT_DELETED
        )
        AccountEvent.objects.bulk_create(
            AccountEvent(
                user=user,
                account_ref=user.pk,
                kind=AccountEventKind.PREMISE_UNLINKED,
                at=now,
                ip=actor.ip,
                details={"premise_id": link.premise_id, "reason": ACCOUNT_DELETED},
            )
            for link in links
        )
        account_event_record(
            user=user,
            kind=AccountEventKind.DELETED,
            actor=actor,
            now=now,
            details={
                "email": mask_email(user.email),
                "premises_unlinked": [link.premise_id for link in links],
            },
        )
        # AccountEvent.user becomes NULL (account_ref stays); the closed links,
        # addresses and authenticators go with the user.
        user.delete()


# --- allauth's emails, through the outbox ------------------------------------------------

# allauth's template prefix → the outbox's kind.
EMAIL_KINDS = {
    "account/email/email_confirmation_signup": "account_confirm_email",
    "account/email/email_confirmation": "account_confirm_email",
    "account/email/password_reset_key": "account_password_reset",
    "account/email/login_code": "account_login_code",
    "account/email/unknown_account": "account_unknown",
    "account/email/account_already_exists": "account_already_exists",
}


class UnknownAuthEmail(Exception):
    """allauth asked for an email the portal has no template for."""


def auth_email_queue(*, template_prefix, to, context, language, now):
    """Queue one of allauth's emails, built from the portal's own templates
    (``templates/emails/account_*``). Links are built on SITE_URL; the key or
    code in them is sealed."""
    kind = EMAIL_KINDS.get(template_prefix)
    if kind is None:
        raise UnknownAuthEmail(template_prefix)
    site = settings.SITE_URL
    deliver_until = None
    mail = {
        "signup_url": site + reverse("account_signup"),
        "login_url": site + reverse("account_login"),
    }
    if kind == "account_confirm_email":
        mail["signup"] = template_prefix.endswith("_signup")
        mail["url"] = site + _path_with(
            "account_confirm_email", {"key": "KEY"}, "KEY", context["key"], "confirm_email"
        )
        deliver_until = now + timedelta(days=allauth_settings.EMAIL_CONFIRMATION_EXPIRE_DAYS)
    elif kind == "account_password_reset":
        mail["url"] = site + _path_with(
            "account_reset_password_from_key",
            {"uidb36": "UID", "key": "KEY"},
            "UID-KEY",
            f"{context['uid']}-{context['key']}",
            "password_reset",
        )
        deliver_until = now + timedelta(seconds=settings.PASSWORD_RESET_TIMEOUT)
        mail["reset_url"] = site + reverse("account_reset_password")
    elif kind == "account_login_code":
        mail["code"] = sealed_value_new("login_code", context["code"])
        deliver_until = now + timedelta(seconds=allauth_settings.LOGIN_BY_CODE_TIMEOUT)
    elif kind == "account_already_exists":
        mail["reset_url"] = site + reverse("account_reset_password")
    return email_queue(
        kind=kind,
        to=to,
        language=language,
        context=mail,
        now=now,
        deliver_until=deliver_until,
    )


def _path_with(name, kwargs, marker, secret, purpose):
    """The path of ``name`` with ``secret`` sealed where ``marker`` stands
    (reversing with the placeholder itself would percent-encode it)."""
    return reverse(name, kwargs=kwargs).replace(marker, sealed_value_new(purpose, secret))
