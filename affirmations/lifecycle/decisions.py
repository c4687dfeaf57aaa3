"""The customer's decision (R6–R8, R10, R13): opt in, opt out, report spam."""

import hashlib
from datetime import timedelta

from django.db import transaction

from premises.models import TermPolicy
from smt_portal.calendar import (
    history_window_start,
    term_end,
)

from ..models import (
    Agreement,
    AgreementStatus,
    Disclosure,
    EndedBy,
    RecordEvent,
)
from ..records import record_append
from ..rules import made_before_move_in, premises_occupants_since
from ..transitions import agreements_transition
from .errors import AgreementNotOpen, DecisionAlreadyMade, DisclosureOutdated, RequestTimedOut
from .requests import lock_active_csp

# --- The customer's decision (R6–R8, R10, R13) -------------------------------------------
#
# A decision is taken under a row lock on the agreement, so however many tabs,
# clicks or concurrent submissions arrive, the first one decides and every
# other one finds ``DecisionAlreadyMade``. The bot challenge is the view's
# business (it is about the HTTP request); everything else is checked here.


def disclosure_publish(*, version, text_en, text_es, actor, now):
    """A new version of the disclosures, shown to customers from ``now`` on.

    Recorded with its full text and a hash of it: what a customer
    acknowledged can always be read back, word for word (R6, R13).
    """
    with transaction.atomic():
        disclosure = Disclosure.objects.create(
            version=version,
            text_en=text_en,
            text_es=text_es,
            published_at=now,
            created_by=actor.user,
        )
        record_append(
            event=RecordEvent.DISCLOSURE_PUBLISHED, actor=actor, now=now,
            details={"version": version, "text_en": text_en, "text_es": text_es,
                     "sha256": _text_hash(text_en, text_es)},
        )  # fmt: skip
    return disclosure


def _text_hash(*texts):
    return hashlib.sha256("\n\x1e\n".join(texts).encode()).hexdigest()


def disclosure_current():
    """The disclosures customers see and acknowledge now: the newest version."""
    return Disclosure.objects.order_by("-version").first()


def data_window_from(*, now):
    """The first local day of data a customer agreeing ``now`` shares
    (glossary, "Data window"): the staff-set history window before today."""
    return history_window_start(now, TermPolicy.current().history_window_months)


def agreement_opt_in(*, agreement, actor, disclosure, now):
    """The customer agrees: the agreement becomes ``active`` and its term starts now.

    Raises ``CspNotActive`` (a suspended or revoked provider cannot be opted
    into), ``DisclosureOutdated``, ``DecisionAlreadyMade`` or ``RequestTimedOut``.
    """
    with transaction.atomic():
        # The provider's row first, as a request does (same lock order, so no
        # deadlock with a revocation): a suspension waits for this opt-in or
        # this opt-in sees it.
        lock_active_csp(agreement.csp)
        locked = _lock_undecided(agreement, now)
        # A new customer moved in after the request (the import ends it too;
        # this guards an import between the page and the click).
        if made_before_move_in(locked, premises_occupants_since(locked)):
            raise AgreementNotOpen("A new customer has moved in since this request was made.")
        check_disclosure(disclosure)
        start, end = now, term_end(now, locked.term_months)
        policy = TermPolicy.current()
        remind_every = timedelta(days=policy.sharing_reminder_days)
        # The data window (glossary) the page showed: stored, never recomputed.
        months = policy.history_window_months
        data_from = history_window_start(now, months)
        agreements_transition(
            due=Agreement.objects.filter(pk=locked.pk, status=AgreementStatus.PENDING_AFFIRMATION),
            to_status=AgreementStatus.ACTIVE, record_event=RecordEvent.OPTED_IN,
            actor=actor, now=now,
            columns={"decided_at": now, "affirmed_at": now, "disclosure": disclosure,
                     "term_start": start, "term_end": end,
                     "next_sharing_reminder_at": start + remind_every,
                     "history_months": months, "data_from": data_from},
            details={"disclosure_version": disclosure.version, "term_start": start,
                     "term_end": end, "history_months": months, "data_from": data_from},
        )  # fmt: skip
        return _decided(locked.pk)


def agreement_opt_out(*, agreement, actor, now):
    """The customer declines: ``opted_out``. Possible even while the provider
    is suspended: saying no never needs the provider's standing."""
    return _decline(
        agreement, to_status=AgreementStatus.OPTED_OUT, event=RecordEvent.OPTED_OUT,
        reason="The customer opted out.",
        actor=actor, now=now,
    )  # fmt: skip


def agreement_report_spam(*, agreement, actor, now):
    """The customer did not ask for this: ``reported_spam`` (counted apart from
    an opt-out by monitoring, and it starts the provider's cooldown)."""
    return _decline(
        agreement, to_status=AgreementStatus.REPORTED_SPAM, event=RecordEvent.REPORTED_SPAM,
        reason="The customer reported the request as spam.",
        actor=actor, now=now,
    )  # fmt: skip


def _decline(agreement, *, to_status, event, reason, actor, now):
    with transaction.atomic():
        locked = _lock_undecided(agreement, now)
        agreements_transition(
            due=Agreement.objects.filter(pk=locked.pk, status=AgreementStatus.PENDING_AFFIRMATION),
            to_status=to_status, record_event=event, actor=actor, now=now,
            ended_by=EndedBy.CUSTOMER, reason=reason, columns={"decided_at": now},
            details={"reason": reason},
        )  # fmt: skip
        return _decided(locked.pk)


def _lock_undecided(agreement, now):
    """The agreement under a row lock, if the customer can still decide it."""
    locked = Agreement.objects.select_for_update().get(pk=agreement.pk)
    if locked.status != AgreementStatus.PENDING_AFFIRMATION:
        raise DecisionAlreadyMade(f"This request was already answered ({locked.status}).")
    # The sweep may not have run yet: the deadline itself decides.
    if locked.affirmation_expires_at < now:
        raise RequestTimedOut("This request's deadline has passed.")
    return locked


def check_disclosure(disclosure):
    current = disclosure_current()
    if disclosure is None or current is None or disclosure.pk != current.pk:
        raise DisclosureOutdated("The disclosures changed; read and acknowledge the new version.")


def _decided(agreement_id):
    return Agreement.objects.select_related("csp", "disclosure").get(pk=agreement_id)
