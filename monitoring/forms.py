"""The public report form (R17): bot-protected with a self-hosted ALTCHA challenge."""

from datetime import timedelta
from decimal import Decimal

from altcha_django import AltchaField, AltchaMixin
from django import forms
from django.db.models import Exists, OuterRef, Q

from csp_registry.models import Csp, CspStatus, CspStatusChange
from premises.identifiers import InvalidIdentifier, normalize_esi_id
from smt_portal.challenge import CHALLENGE_MESSAGES

from .detectors import DETECTORS
from .models import DetectorSetting, MonitoringSettings, ReportCategory
from .texts import evidence_word, is_fraction, texts


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


# --- Staff: a detector's window and thresholds as typed fields ------------------------------------

WINDOW_UNITS = {"minutes": timedelta(minutes=1), "hours": timedelta(hours=1),
                "days": timedelta(days=1)}  # fmt: skip
THRESHOLD_PREFIX = "threshold_"


def window_in_parts(window):
    """``timedelta(days=7)`` → ``(7, "days")``: the largest unit that divides it."""
    for unit in ("days", "hours", "minutes"):
        if window and window % WINDOW_UNITS[unit] == timedelta(0):
            return window // WINDOW_UNITS[unit], unit
    return max(1, round(window.total_seconds() / 60)) if window else 1, "minutes"


def window_in_words(window):
    amount, unit = window_in_parts(window)
    return f"{amount} {unit[:-1] if amount == 1 else unit}"


def threshold_unit(name):
    """How staff enter a threshold: a percentage, days, seconds or a count."""
    if is_fraction(name):
        return "percent"
    if name.endswith("_days"):
        return "days"
    if name.endswith("_seconds"):
        return "seconds"
    return "count"


_UNIT_HELP = {
    "percent": "A percentage from 0 to 100 (5 means 5 %).",
    "days": "A number of days.",
    "seconds": "A number of seconds.",
    "count": "A number of rows counted in the window.",
}


def threshold_in_words(name, value):
    unit = threshold_unit(name)
    if unit == "percent":
        return f"{(Decimal(str(value)) * 100).normalize():f} %"
    return f"{value} {unit}" if unit in ("days", "seconds") else f"{value}"


def _threshold_field(name, default):
    unit = threshold_unit(name)
    label = evidence_word(name)
    default_words = threshold_in_words(name, default)
    help_text = f"{_UNIT_HELP[unit]} Default: {default_words}."
    if name.startswith("min_"):
        help_text += " Met at this value."
    if unit == "percent":
        return forms.DecimalField(label=f"{label} (%)", min_value=0, max_value=100,
                                  decimal_places=2, help_text=help_text)  # fmt: skip
    suffix = {"days": " (days)", "seconds": " (seconds)"}.get(unit, "")
    return forms.IntegerField(label=f"{label}{suffix}", min_value=0, help_text=help_text)


class DetectorSettingForm(forms.ModelForm):
    """A detector's switch, window (a number and a unit) and each of its
    thresholds as its own typed field, saved back to ``window`` and the JSON
    ``thresholds`` (percentages as fractions of one)."""

    window_amount = forms.IntegerField(label="Window", min_value=1, max_value=10_000)
    window_unit = forms.ChoiceField(
        label="Window unit",
        choices=[(unit, unit) for unit in WINDOW_UNITS],
        help_text="The detector counts over windows of this length, in Central time: a day "
        "window runs from midnight to midnight (23 or 25 hours at a DST change), a week "
        "window starts on Monday, shorter windows start at midnight. Re-runs in one "
        "window update one flag.",
    )

    class Meta:
        model = DetectorSetting
        fields = ("enabled",)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        detector = DETECTORS.get(self.instance.name)
        self.detector = detector
        amount, unit = window_in_parts(self.instance.window)
        self.fields["window_amount"].initial = amount
        self.fields["window_unit"].initial = unit
        if detector is None:
            return
        stored = {**detector.thresholds, **(self.instance.thresholds or {})}
        for name, default in detector.thresholds.items():
            field_name = THRESHOLD_PREFIX + name
            self.fields[field_name] = _threshold_field(name, default)
            value = stored[name]
            if threshold_unit(name) == "percent":
                value = (Decimal(str(value)) * 100).normalize()
            self.fields[field_name].initial = value

    def clean(self):
        cleaned = super().clean()
        amount, unit = cleaned.get("window_amount"), cleaned.get("window_unit")
        if amount and unit:
            self.instance.window = amount * WINDOW_UNITS[unit]
            if self.instance.window < timedelta(minutes=1):
                self.add_error("window_amount", "A window is at least one minute.")
        if self.detector is not None:
            thresholds = {}
            for name in self.detector.thresholds:
                value = cleaned.get(THRESHOLD_PREFIX + name)
                if value is None:
                    return cleaned  # that field's own error is shown
                if threshold_unit(name) == "percent":
                    value = float(value / 100)
                thresholds[name] = value
            self.instance.thresholds = thresholds
        return cleaned

    def threshold_field_names(self):
        return [name for name in self.fields if name.startswith(THRESHOLD_PREFIX)]


class MonitoringSettingsForm(forms.ModelForm):
    class Meta:
        model = MonitoringSettings
        fields = ("spam_cooldown_days",)
        labels = {"spam_cooldown_days": "Spam cooldown (days)"}
