"""The identifiers CSPs send (ESI ID, meter number, REP certificate number) as
serializer fields: each normalises with ``premises.identifiers`` and publishes
its format in the OpenAPI document (a pattern and an example), so a client —
or schemathesis — can tell a well-formed value before sending it."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from premises.identifiers import (
    CERTIFICATE_NUMBER_PATTERN,
    ESI_ID_PATTERN,
    METER_NUMBER_PATTERN,
    InvalidIdentifier,
    normalize_certificate_number,
    normalize_esi_id,
    normalize_meter_number,
)

# One example each, the sandbox's first premise (premises/sandbox.py).
ESI_ID_EXAMPLE = "10443720099000001"
METER_NUMBER_EXAMPLE = "SBX0000001"
CERTIFICATE_NUMBER_EXAMPLE = "10004"

# As raw text: normalisation removes spaces and dashes before the pattern applies.
MAX_RAW_LENGTH = 64
MAX_RAW_CERTIFICATE_LENGTH = 16


class IdentifierField(serializers.CharField):
    """A CharField that normalises with one of ``premises.identifiers``; a value
    it cannot normalise is a 400 ``invalid`` naming the field, saying why.
    A subclass names its normaliser, its raw length and its help text."""

    normalize = None
    max_raw_length = MAX_RAW_LENGTH
    help = ""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", self.max_raw_length)
        kwargs.setdefault("help_text", self.help)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        try:
            return type(self).normalize(super().to_internal_value(data))
        except InvalidIdentifier as exc:
            raise serializers.ValidationError(str(exc)) from None


def _documented(pattern, example, max_length):
    return extend_schema_field(
        {"type": "string", "pattern": pattern, "maxLength": max_length, "example": example}
    )


@_documented(ESI_ID_PATTERN, ESI_ID_EXAMPLE, MAX_RAW_LENGTH)
class EsiIdField(IdentifierField):
    normalize = staticmethod(normalize_esi_id)
    help = (
        "17 digits (Oncor, AEP Texas, TNMP) or 22 (CenterPoint), beginning with 10 and "
        "the TDU's code, e.g. `10443720099000001`. Spaces, dashes and a spreadsheet's "
        "leading apostrophe are removed; never pad or cut one."
    )


@_documented(METER_NUMBER_PATTERN, METER_NUMBER_EXAMPLE, MAX_RAW_LENGTH)
class MeterNumberField(IdentifierField):
    normalize = staticmethod(normalize_meter_number)
    help = (
        "The serial of the premise's current meter: 1 to 32 letters and digits (often 9 "
        "digits), e.g. `SBX0000001` or `123456789`; spaces and dashes are removed, letters "
        "upper-cased."
    )


@_documented(CERTIFICATE_NUMBER_PATTERN, CERTIFICATE_NUMBER_EXAMPLE, MAX_RAW_CERTIFICATE_LENGTH)
class CertificateNumberField(IdentifierField):
    normalize = staticmethod(normalize_certificate_number)
    max_raw_length = MAX_RAW_CERTIFICATE_LENGTH
    help = (
        "The PUCT certificate number of the premise's retail electric provider of record "
        "(`GET /api/v1/reps/` lists them): 4 to 6 digits, sometimes followed by a letter, "
        "e.g. `10004` or `10166X`."
    )
