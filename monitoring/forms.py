"""The public report form (R17): bot-protected with a self-hosted ALTCHA challenge."""

from altcha_django import AltchaField, AltchaMixin
from django import forms
from django.db.models import Exists, OuterRef, Q

from csp_registry.models import Csp, CspStatus, CspStatusChange
from premises.identifiers import InvalidIdentifier, normalize_esi_id
from smt_portal.challenge import CHALLENGE_MESSAGES

from .models import ReportCategory
from .texts import texts


def csps_ever_active():
    """CSPs that have been active at some time: the ones a customer can have met."""
    became_active = CspStatusChange.objects.filter(csp=OuterRef("pk"), to_status=CspStatus.ACTIVE)
    return Csp.objects.filter(
        Q(status__in=[CspStatus.ACTIVE, CspStatus.SUSPENDED]) | Exists(became_active)
    )


class ReportForm(AltchaMixin, forms.Form):
    csp = forms.ModelChoiceField(queryset=Csp.objects.none())
    category = forms.ChoiceField(choices=ReportCategory.choices, widget=forms.RadioSelect)
    description = forms.CharField(max_length=5000, widget=forms.Textarea(attrs={"rows": 6}))
    contact_email = forms.EmailField(required=False)
    esi_id = forms.CharField(required=False, max_length=40)
    altcha = AltchaField(challenge_mode="inline", error_messages=CHALLENGE_MESSAGES)

    def __init__(self, *args, language="en", **kwargs):
        super().__init__(*args, **kwargs)
        self.words = words = texts(language)
        self.fields["csp"].queryset = csps_ever_active().order_by("legal_name")
        self.fields["csp"].empty_label = words["csp_empty"]
        self.fields["category"].choices = list(words["categories"].items())
        for name in ("csp", "category", "description", "contact_email", "esi_id"):
            self.fields[name].label = words[name]
            self.fields[name].help_text = words.get(f"{name}_help", "")
        self.fields["altcha"].label = words["bot_check"]
        self.fields["altcha"].widget.language = language

    def clean_esi_id(self):
        raw = self.cleaned_data["esi_id"].strip()
        if not raw:
            return ""
        try:
            return normalize_esi_id(raw)
        except InvalidIdentifier:
            raise forms.ValidationError(self.words["invalid_esi_id"]) from None
