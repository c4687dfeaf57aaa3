"""The customer's opt-in form: acknowledgement, the disclosures shown, the bot challenge."""

from altcha_django import AltchaField, AltchaMixin
from django import forms
from django.utils.translation import gettext_lazy as _

from smt_portal.challenge import CHALLENGE_MESSAGES

from .models import Disclosure


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
