"""Every change of an agreement's state, one function per change: the public face
of ``affirmations.lifecycle`` (requests, decisions, renewals, endings, sweeps,
links), which views, the API, the admin, tasks and other apps import from here.

None of them repeats another's logic. Every status change goes through
``affirmations.transitions`` (a row lock, one UPDATE, the record and the CSP
event in one transaction), so two concurrent decisions never both apply, and
``AgreementPremise.is_open`` stays in step with the agreement's status (the
partial unique index on it keeps one open agreement per CSP and ESI ID).
"""

from .lifecycle.decisions import (
    agreement_opt_in,
    agreement_opt_out,
    agreement_report_spam,
    check_disclosure,
    data_window_from,
    disclosure_current,
    disclosure_publish,
)
from .lifecycle.endings import (
    agreement_end_by_customer,
    agreement_terminate,
    agreements_end_for_new_occupants,
    agreements_revoke_for_csp,
)
from .lifecycle.errors import (
    AgreementError,
    AgreementNotOpen,
    AgreementNotPending,
    AuthenticationFailed,
    CooldownActive,
    CspNotActive,
    CspProfileIncomplete,
    DecisionAlreadyMade,
    DisclosureOutdated,
    DuplicateAgreement,
    ReminderAlreadySent,
    RenewalNotOpen,
    RenewalNotPending,
    RenewalPending,
    RequestTimedOut,
    TermExceedsLimit,
)
from .lifecycle.links import (
    CONFIRMATION_ALPHABET,
    CONFIRMATION_LENGTH,
    affirmation_url,
    agreement_link_find,
    confirmation_code_new,
    link_create,
    link_token_hash,
    link_token_new,
    renewal_link_find,
    renewal_url,
    termination_link_find,
    termination_link_new,
    termination_link_renew,
    termination_url,
)
from .lifecycle.renewals import (
    agreement_affirmed_email,
    agreement_renew,
    agreement_renewal_decline,
    agreement_renewal_request,
    renewals_time_out,
    same_address,
)
from .lifecycle.requests import (
    MAX_PREMISES,
    agreement_remind,
    agreement_request,
    lock_active_csp,
    request_guards_subscribe,
)
from .lifecycle.sweeps import (
    agreements_end_terms,
    agreements_remind_sharing,
    agreements_time_out,
)

__all__ = [
    "AgreementError",
    "AgreementNotOpen",
    "AgreementNotPending",
    "AuthenticationFailed",
    "CONFIRMATION_ALPHABET",
    "CONFIRMATION_LENGTH",
    "CooldownActive",
    "CspNotActive",
    "CspProfileIncomplete",
    "DecisionAlreadyMade",
    "DisclosureOutdated",
    "DuplicateAgreement",
    "MAX_PREMISES",
    "ReminderAlreadySent",
    "RenewalNotOpen",
    "RenewalNotPending",
    "RenewalPending",
    "RequestTimedOut",
    "TermExceedsLimit",
    "affirmation_url",
    "agreement_affirmed_email",
    "agreement_end_by_customer",
    "agreement_link_find",
    "agreement_opt_in",
    "agreement_opt_out",
    "agreement_remind",
    "agreement_renew",
    "agreement_renewal_decline",
    "agreement_renewal_request",
    "agreement_report_spam",
    "agreement_request",
    "agreement_terminate",
    "agreements_end_terms",
    "agreements_remind_sharing",
    "agreements_end_for_new_occupants",
    "agreements_revoke_for_csp",
    "agreements_time_out",
    "check_disclosure",
    "data_window_from",
    "confirmation_code_new",
    "disclosure_current",
    "disclosure_publish",
    "link_create",
    "link_token_hash",
    "link_token_new",
    "lock_active_csp",
    "renewal_link_find",
    "renewal_url",
    "renewals_time_out",
    "request_guards_subscribe",
    "same_address",
    "termination_link_find",
    "termination_link_new",
    "termination_link_renew",
    "termination_url",
]
