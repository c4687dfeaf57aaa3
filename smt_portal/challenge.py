"""The bot challenge's words, shared by every form that carries it (R10).

The opt-in, the CSP application and the report form all use altcha-django's
proof of work; a person who fails it gets the same clear message, in their
language, whichever form it was.
"""

from django.utils.translation import gettext_lazy as _

# One clear message per way a solution can fail (R10); nothing is recorded.
_CHALLENGE_AGAIN = _(
    "The check that you are not a robot did not succeed. Tick “I'm not a robot” again, "
    "wait for the tick, then submit."
)
CHALLENGE_MESSAGES = {
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
