"""Forms of the portal's agreement pages: the list's filters, the renewal and
termination buttons, and the request form (premise rows + the request itself).

Fields mirror the agreements API's input (affirmations.api.serializers): the same
normalisation of identifiers, the same limits; the rules stay in the services.
"""

from django import forms
from django.forms import formset_factory

from affirmations.models import AgreementStatus, Language
from affirmations.services import MAX_PREMISES
from premises.identifiers import (
    InvalidIdentifier,
    normalize_certificate_number,
    normalize_esi_id,
    normalize_meter_number,
)
from premises.models import RetailElectricProvider, TermPolicy


def _normalized(value, normalize):
    try:
        return normalize(value)
    except InvalidIdentifier as exc:
        raise forms.ValidationError(str(exc)) from None


class DescribedErrors:
    """Each field with errors names them (and its help) in ``aria-describedby``, so a
    screen reader reads the error with the field (ids as in ``_field.html``)."""

    def add_error(self, field, error):
        super().add_error(field, error)
        for name in self.errors:
            if name in self.fields:
                bound = self[name]
                ids = [f"{bound.auto_id}_error"]
                if self.fields[name].help_text:
                    ids.append(f"{bound.auto_id}_helptext")
                self.fields[name].widget.attrs["aria-describedby"] = " ".join(ids)


class AgreementFilterForm(DescribedErrors, forms.Form):
    status = forms.ChoiceField(
        label="Status", required=False, choices=[("", "Any status"), *AgreementStatus.choices]
    )
    esi_id = forms.CharField(label="ESI ID", required=False, max_length=64)

    def clean_esi_id(self):
        value = self.cleaned_data["esi_id"].strip()
        return _normalized(value, normalize_esi_id) if value else ""


class RenewalForm(DescribedErrors, forms.Form):
    customer_email = forms.EmailField(
        label="Customer's email address",
        max_length=254,
        help_text="Where the renewal request is sent.",
    )


class TerminationForm(DescribedErrors, forms.Form):
    reason = forms.CharField(
        label="Reason (optional)", required=False, max_length=2000, widget=forms.Textarea(
            attrs={"rows": 2}
        ),
    )  # fmt: skip


def provider_choices():
    """Every retail electric provider, by name and certificate number."""
    return [("", "Choose the provider of record")] + [
        (rep.certificate_number, f"{rep.legal_name} ({rep.certificate_number})")
        for rep in RetailElectricProvider.objects.order_by("legal_name", "certificate_number")
    ]


class PremiseRowForm(DescribedErrors, forms.Form):
    esi_id = forms.CharField(label="ESI ID", max_length=64)
    meter_number = forms.CharField(label="Meter number", max_length=64)
    rep_certificate_number = forms.ChoiceField(label="Retail electric provider of record")

    def __init__(self, *args, providers=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["rep_certificate_number"].choices = providers or provider_choices()

    def clean_esi_id(self):
        return _normalized(self.cleaned_data["esi_id"], normalize_esi_id)

    def clean_meter_number(self):
        return _normalized(self.cleaned_data["meter_number"], normalize_meter_number)

    def clean_rep_certificate_number(self):
        return _normalized(
            self.cleaned_data["rep_certificate_number"], normalize_certificate_number
        )

    def triple(self):
        data = self.cleaned_data
        return (data["esi_id"], data["meter_number"], data["rep_certificate_number"])


class BasePremiseFormSet(forms.BaseFormSet):
    def __init__(self, *args, **kwargs):
        # One query for the drop-down, shared by every row.
        kwargs.setdefault("form_kwargs", {})["providers"] = provider_choices()
        super().__init__(*args, **kwargs)

    def clean(self):
        if any(self.errors):
            return
        esi_ids = [form.cleaned_data["esi_id"] for form in self.filled()]
        if len(set(esi_ids)) != len(esi_ids):
            raise forms.ValidationError("Each ESI ID may appear only once.")

    def filled(self):
        return [form for form in self.forms if form.has_changed() and form.cleaned_data]

    def triples(self):
        return [form.triple() for form in self.filled()]


def premise_formset(rows=1):
    """The premise rows: ``rows`` of them shown, 1 to the API's limit."""
    rows = max(1, min(int(rows), MAX_PREMISES))
    return formset_factory(
        PremiseRowForm,
        formset=BasePremiseFormSet,
        extra=rows - 1,
        min_num=1,
        validate_min=True,
        max_num=MAX_PREMISES,
        validate_max=True,
        absolute_max=MAX_PREMISES,
    )


def term_choices(maximum=None):
    """Whole months, up to ``maximum`` (what the premises allow, once known) or
    the longest term the policy allows any premise."""
    if maximum is None:
        policy = TermPolicy.current()
        maximum = max(policy.standard_max_months, policy.large_commercial_max_months)
    return [(months, f"{months} months" if months > 1 else "1 month") for months in
            range(1, maximum + 1)]  # fmt: skip


class AgreementRequestForm(DescribedErrors, forms.Form):
    customer_email = forms.EmailField(
        label="Customer's email address",
        max_length=254,
        help_text="The request is emailed here; the customer affirms it there.",
    )
    term_months = forms.TypedChoiceField(label="Term", coerce=int)
    language = forms.ChoiceField(
        label="Language of the customer's emails", choices=Language.choices, initial="en"
    )

    def __init__(self, *args, max_term_months=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["term_months"].choices = term_choices(max_term_months)
        if max_term_months is None:
            policy = TermPolicy.current()
            self.fields["term_months"].help_text = (
                f"At most {policy.standard_max_months} months; up to "
                f"{policy.large_commercial_max_months} when every premise is large commercial."
            )
        else:
            self.fields[
                "term_months"
            ].help_text = f"At most {max_term_months} months for these premises."
