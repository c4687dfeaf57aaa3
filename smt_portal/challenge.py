"""The bot challenge's words, shared by every form that carries it (R10).

The opt-in, the CSP application and the report form all use altcha-django's
proof of work; a person who fails it gets the same clear message, in their
language, whichever form it was.
"""

from altcha_django.results import ErrorCode
from django.utils.translation import gettext_lazy as _

# One clear message per way a solution can fail (R10); nothing is recorded.
_CHALLENGE_AGAIN = _(
    "The check that you are not a robot did not succeed. Tick “I'm not a robot” again, "
    "wait for the tick, then submit."
)
_UNAVAILABLE = _(
    "The check that you are not a robot is unavailable right now. Try again in a few minutes."
)
CHALLENGE_MESSAGES = {
    # Every way the library can refuse, in the page's language: none of its own
    # (English-only) messages reaches a Spanish page (issue 17).
    **{code.value: _CHALLENGE_AGAIN for code in ErrorCode},
    ErrorCode.BACKEND_ERROR.value: _UNAVAILABLE,
    ErrorCode.MISCONFIGURED.value: _UNAVAILABLE,
    "required": _("Tick “I'm not a robot” and wait for the tick before you submit."),
    "expired": _("The check that you are not a robot expired. Tick “I'm not a robot” again."),
    "replayed": _(
        "This check was already used. Tick “I'm not a robot” again for a new one, then submit."
    ),
    **{
        code: _CHALLENGE_AGAIN
        for code in ("malformed", "invalid_signature", "invalid_solution", "unverified")
    },
}
