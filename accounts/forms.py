"""The account's forms: adding a premise by its three facts."""

from django import forms
from django.utils.translation import gettext_lazy as _

from premises.identifiers import (
    InvalidIdentifier,
    normalize_certificate_number,
    normalize_esi_id,
    normalize_meter_number,
)
from premises.models import RetailElectricProvider


def _rep_choices():
    # The API's ROR drop-down (GET /api/v1/reps/): active REPs by name.
    reps = RetailElectricProvider.objects.filter(active=True).order_by(
        "legal_name", "certificate_number"
    )
    return [("", _("Choose your retail electric provider"))] + [
        (rep.certificate_number, f"{rep.legal_name} ({rep.certificate_number})") for rep in reps
    ]


def _normalised(normalize, message):
    def clean(self, name):
        try:
            return normalize(self.cleaned_data[name])
        except InvalidIdentifier:
            raise forms.ValidationError(message) from None

    return clean


class PremiseAddForm(forms.Form):
    """Only the form of each fact is checked here; whether they match is the
    service's question, answered the same whichever was wrong."""

    esi_id = forms.CharField(
        label=_("ESI ID"), max_length=64,
        help_text=_("17 or 22 digits beginning with 10, as printed on your electricity bill."),
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )  # fmt: skip
    meter_number = forms.CharField(
        label=_("Meter number"), max_length=64,
        help_text=_("Printed on your bill and on the meter."),
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )  # fmt: skip
    rep_certificate_number = forms.ChoiceField(
        label=_("Retail electric provider"),
        help_text=_("The company that bills you for electricity."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["rep_certificate_number"].choices = _rep_choices()

    def clean_esi_id(self):
        return _normalised(
            normalize_esi_id, _("Enter the ESI ID as printed: 17 or 22 digits beginning with 10.")
        )(self, "esi_id")

    def clean_meter_number(self):
        return _normalised(
            normalize_meter_number, _("Enter the meter number: letters and digits only.")
        )(self, "meter_number")

    def clean_rep_certificate_number(self):
        return _normalised(
            normalize_certificate_number, _("Choose your retail electric provider.")
        )(self, "rep_certificate_number")
