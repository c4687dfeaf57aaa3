"""What the lifecycle refuses, as exceptions the API maps to the contract's codes."""


# --- Errors the API maps to the contract's codes -----------------------------


class AgreementError(Exception):
    """A request the rules refuse; ``code`` is the contract's error code."""

    code = "invalid"

    def __init__(self, message):
        super().__init__(message)
        self.message = message


class CspNotActive(AgreementError):
    code = "csp_not_active"


class CspProfileIncomplete(AgreementError):
    """The CSP's statement of how it will use the data is missing in English or
    Spanish: customers must read it in their language before deciding."""

    code = "csp_profile_incomplete"


class AuthenticationFailed(AgreementError):
    code = "authentication_failed"

    def __init__(self, indexes):
        # Indexes only: never which of the three facts was wrong (R3).
        super().__init__(
            "These premises could not be authenticated: " + ", ".join(map(str, indexes))
        )
        self.indexes = indexes


class TermExceedsLimit(AgreementError):
    code = "term_exceeds_limit"

    def __init__(self, maximum):
        super().__init__(f"The term may be at most {maximum} months for these premises.")
        self.maximum = maximum


class DuplicateAgreement(AgreementError):
    code = "duplicate_agreement"

    def __init__(self, esi_ids):
        super().__init__(
            "An agreement pending affirmation or active already covers: " + ", ".join(esi_ids)
        )
        self.esi_ids = esi_ids


class CooldownActive(AgreementError):
    code = "cooldown_active"

    def __init__(self, esi_ids):
        super().__init__(
            "This provider's earlier request was reported as spam; it cannot ask again yet "
            "for: " + ", ".join(esi_ids)
        )
        self.esi_ids = esi_ids


class AgreementNotPending(AgreementError):
    code = "agreement_not_pending"


class ReminderAlreadySent(AgreementError):
    code = "reminder_already_sent"


class AgreementNotOpen(AgreementError):
    # The contract's code for "this agreement is not in a state that allows it".
    code = "agreement_not_active"


class DecisionAlreadyMade(AgreementError):
    """The customer (in another tab, or a second click) already decided."""

    code = "already_decided"


class RequestTimedOut(AgreementError):
    code = "timed_out"


class DisclosureOutdated(AgreementError):
    """Staff published new disclosures after the page was shown: the customer
    must see (and acknowledge) the version that is recorded."""

    code = "disclosure_outdated"


class RenewalPending(AgreementError):
    code = "renewal_pending"


class RenewalNotPending(AgreementError):
    """The renewal was already answered, timed out, or its agreement ended."""

    code = "renewal_not_pending"


class RenewalNotOpen(AgreementError):
    """Asked before the renewal window of the current term opened (R12)."""

    code = "renewal_not_open"

    def __init__(self, opens_on):
        super().__init__(
            f"A renewal can be asked for only in the last days of the current term: "
            f"from {opens_on.isoformat()}."
        )
        self.opens_on = opens_on
