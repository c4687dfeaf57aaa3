"""The public application form of a Competitive Service Provider."""

import re

from altcha_django import AltchaField, AltchaMixin
from django import forms
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from smt_portal.challenge import CHALLENGE_MESSAGES

from .models import Csp

_DUNS = re.compile(r"^\d{9}$")
REQUIRED_FACTS = ("duns_number", "mailing_address", "scope_of_use", "scope_of_use_es")


class CspApplicationForm(AltchaMixin, forms.ModelForm):
    """Anyone may apply, so the same proof-of-work challenge as the opt-in guards it."""

    # Companies type "example.com"; https is the scheme they mean (and Django 6's default).
    website_url = forms.URLField(label=_("Website"), required=False, assume_scheme="https")
    privacy_policy_url = forms.URLField(label=_("Privacy policy URL"), assume_scheme="https")
    altcha = AltchaField(
        label=_("Show that you are not a robot"),
        help_text=_("Your device solves a small puzzle; no outside service is contacted."),
        error_messages=CHALLENGE_MESSAGES,
    )

    class Meta:
        model = Csp
        fields = [
            "legal_name",
            "dba_name",
            "duns_number",
            "puct_registration_number",
            "contact_name",
            "contact_email",
            "contact_phone",
            "notice_email",
            "mailing_address",
            "website_url",
            "privacy_policy_url",
            "scope_of_use",
            "scope_of_use_es",
            "registered_ip_ranges",
        ]
        widgets = {
            "mailing_address": forms.Textarea(attrs={"rows": 3}),
            "scope_of_use": forms.Textarea(attrs={"rows": 6, "lang": "en"}),
            "scope_of_use_es": forms.Textarea(attrs={"rows": 6, "lang": "es"}),
            "registered_ip_ranges": forms.Textarea(attrs={"rows": 3}),
        }
        labels = {
            "scope_of_use": _("How you will use the data, in English"),
            "scope_of_use_es": _("How you will use the data, in Spanish"),
        }
        help_texts = {
            "scope_of_use": _(
                "Customers read it word for word before they decide, each in their language."
            ),
            "scope_of_use_es": _("The same statement in Spanish, for Spanish-speaking customers."),
            "notice_email": _("Where enforcement notices (e.g. a suspension) are sent."),
            "duns_number": _("Nine digits."),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["altcha"].widget.language = get_language()
        # Blank-able in the model (``create_csp`` invents nothing), never here.
        for name in REQUIRED_FACTS:
            self.fields[name].required = True

    def application(self):
        """The cleaned values of the CSP's own fields (not the challenge)."""
        return {name: self.cleaned_data[name] for name in self.Meta.fields}

    def clean_duns_number(self):
        digits = re.sub(r"[\s\-]", "", self.cleaned_data["duns_number"])
        if not _DUNS.match(digits):
            raise forms.ValidationError(_("A DUNS number has nine digits."))
        return digits

    def clean_contact_phone(self):
        phone = self.cleaned_data["contact_phone"].strip()
        if sum(char.isdigit() for char in phone) < 10:
            raise forms.ValidationError(_("Enter a phone number with its area code."))
        return phone
