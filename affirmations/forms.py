"""The customer's opt-in form: acknowledgement, the disclosures shown, the bot challenge."""

from altcha_django import AltchaField, AltchaMixin
from django import forms
from django.utils.translation import gettext_lazy as _

from .models import Disclosure

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


class AffirmationForm(AltchaMixin, forms.Form):
    """Opt in, or renew through the full affirmation (R6, R7, R10).

    The checkbox is never pre-ticked and is required; ``disclosure_version``
    names the version the page showed, which is the version recorded.
    """

    acknowledge = forms.BooleanField(
        required=True,
        initial=False,
        error_messages={
            "required": _("Tick the box to confirm you read the disclosures and agree.")
        },
    )
    disclosure_version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
    altcha = AltchaField(error_messages=CHALLENGE_MESSAGES)

    def clean_disclosure_version(self):
        version = self.cleaned_data["disclosure_version"]
        disclosure = Disclosure.objects.filter(version=version).first()
        if disclosure is None:
            raise forms.ValidationError(_("These disclosures are not known. Reload the page."))
        self.cleaned_data["disclosure"] = disclosure
        return version
