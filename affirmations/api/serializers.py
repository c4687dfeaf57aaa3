"""Input and output shapes of the agreements API (contract.md, "REST API")."""

from rest_framework import serializers

from csp_registry.api.fields import CertificateNumberField, EsiIdField, MeterNumberField

from ..delivery import affirmation_email_status
from ..masking import mask_email
from ..models import OPEN_STATUSES, AgreementStatus, EndedBy, Language
from ..rules import OCCUPANT_CHANGED
from ..services import MAX_PREMISES


class PremiseInput(serializers.Serializer):
    esi_id = EsiIdField()
    meter_number = MeterNumberField()
    rep_certificate_number = CertificateNumberField()


class AgreementCreateInput(serializers.Serializer):
    premises = PremiseInput(
        many=True,
        min_length=1,
        max_length=MAX_PREMISES,
        help_text=f"1 to {MAX_PREMISES} premises of one customer, each ESI ID once.",
    )
    customer_email = serializers.EmailField(max_length=254)
    term_months = serializers.IntegerField(
        min_value=1, help_text="Whole months; at most 12 (the policy limit) or 36."
    )
    language = serializers.ChoiceField(choices=Language.choices, default=Language.ENGLISH)

    def validate_premises(self, premises):
        esi_ids = [premise["esi_id"] for premise in premises]
        if len(set(esi_ids)) != len(esi_ids):
            raise serializers.ValidationError("Each ESI ID may appear only once.")
        return premises

    def triples(self):
        return [
            (p["esi_id"], p["meter_number"], p["rep_certificate_number"])
            for p in self.validated_data["premises"]
        ]


class AgreementListFilters(serializers.Serializer):
    status = serializers.ChoiceField(choices=AgreementStatus.choices, required=False)
    esi_id = EsiIdField(required=False)


class AgreementTerminationInput(serializers.Serializer):
    reason = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class RenewalCreateInput(serializers.Serializer):
    customer_email = serializers.EmailField(
        max_length=254, help_text="Where the portal sends the renewal request (R4)."
    )


class AgreementPremiseOutput(serializers.Serializer):
    esi_id = serializers.CharField()
    large_commercial = serializers.BooleanField(
        help_text="The classification when the request was made (R11)."
    )


class RenewalOutput(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    status = serializers.CharField()
    term_months = serializers.IntegerField()
    requested_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()
    decided_at = serializers.DateTimeField(allow_null=True)
    new_term_end = serializers.DateTimeField(allow_null=True)


class AgreementOutput(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=AgreementStatus.choices)
    premises = AgreementPremiseOutput(many=True, source="premises.all")
    term_months = serializers.IntegerField()
    max_term_months = serializers.IntegerField(help_text="The limit in force at request time.")
    customer_email_masked = serializers.SerializerMethodField()
    language = serializers.ChoiceField(choices=Language.choices)
    confirmation_code = serializers.CharField(
        help_text="Repeated in the customer's email; tell it to the customer."
    )
    created_at = serializers.DateTimeField()
    affirmation_expires_at = serializers.DateTimeField()
    reminder_sent_at = serializers.DateTimeField(allow_null=True)
    affirmed_at = serializers.DateTimeField(allow_null=True)
    term_start = serializers.DateTimeField(allow_null=True)
    term_end = serializers.DateTimeField(allow_null=True)
    ended_at = serializers.DateTimeField(allow_null=True)
    ended_by = serializers.ChoiceField(choices=EndedBy.choices, allow_blank=True)
    end_reason = serializers.CharField(allow_blank=True)
    ended_reason = serializers.SerializerMethodField(
        help_text=(
            "Why an ended agreement ended, as a code: `occupant_changed` (a new customer moved "
            "in), `customer`, `csp`, `committee`, `commission` or `system` (who ended it), or "
            "the final status (`opted_out`, `reported_spam`, `timed_out`, `term_ended`); null "
            "while open."
        )
    )
    renewals = RenewalOutput(many=True, source="renewals.all")
    affirmation_email_status = serializers.SerializerMethodField(
        help_text=(
            "Delivery of the email asking the customer to affirm: `queued` (being sent or "
            "retried), `sent` (the customer's mail server took it), or `failed` (refused, or "
            "not delivered before the link's deadline: the customer never got the request)."
        )
    )

    def get_customer_email_masked(self, agreement) -> str:
        return mask_email(agreement.customer_email)

    def get_ended_reason(self, agreement) -> str | None:
        if agreement.status in OPEN_STATUSES:
            return None
        if agreement.end_reason == OCCUPANT_CHANGED:
            return OCCUPANT_CHANGED
        if agreement.status in (AgreementStatus.TERMINATED, AgreementStatus.REVOKED):
            return agreement.ended_by or str(agreement.status)
        return str(agreement.status)

    def get_affirmation_email_status(self, agreement) -> str:
        return affirmation_email_status(agreement)

    def to_representation(self, agreement):
        # The declared fields above are the schema; the answer is built by
        # ``agreement_output`` (a test holds the two equal), which skips DRF's
        # copy of every field per instance: a sweep's events represent a
        # million agreements, and this was 95 % of a time-out sweep's time.
        return agreement_output(agreement)


# Unbound fields whose ``to_representation`` the fast path shares with the declared ones.
_WHEN = serializers.DateTimeField()
_STATUS = serializers.ChoiceField(choices=AgreementStatus.choices)
_LANGUAGE = serializers.ChoiceField(choices=Language.choices)
_ENDED_BY = serializers.ChoiceField(choices=EndedBy.choices, allow_blank=True)
_FLAG = serializers.BooleanField()


def _when(value):
    return None if value is None else _WHEN.to_representation(value)


def _choice(field, value):
    return None if value is None else field.to_representation(value)


def _text(value):
    return None if value is None else str(value)


def _renewal_output(renewal):
    return {
        "id": renewal.id,
        "kind": _text(renewal.kind),
        "status": _text(renewal.status),
        "term_months": None if renewal.term_months is None else int(renewal.term_months),
        "requested_at": _when(renewal.requested_at),
        "expires_at": _when(renewal.expires_at),
        "decided_at": _when(renewal.decided_at),
        "new_term_end": _when(renewal.new_term_end),
    }


def agreement_output(agreement) -> dict:
    """``AgreementOutput(agreement).data`` as a plain dict, key for key and value for value."""
    output = AgreementOutput  # its SerializerMethodFields' methods need no instance state
    return {
        "id": agreement.id,
        "status": _choice(_STATUS, agreement.status),
        "premises": [
            {"esi_id": _text(p.esi_id), "large_commercial": _choice(_FLAG, p.large_commercial)}
            for p in agreement.premises.all()
        ],
        "term_months": int(agreement.term_months),
        "max_term_months": int(agreement.max_term_months),
        "customer_email_masked": output.get_customer_email_masked(None, agreement),
        "language": _choice(_LANGUAGE, agreement.language),
        "confirmation_code": _text(agreement.confirmation_code),
        "created_at": _when(agreement.created_at),
        "affirmation_expires_at": _when(agreement.affirmation_expires_at),
        "reminder_sent_at": _when(agreement.reminder_sent_at),
        "affirmed_at": _when(agreement.affirmed_at),
        "term_start": _when(agreement.term_start),
        "term_end": _when(agreement.term_end),
        "ended_at": _when(agreement.ended_at),
        "ended_by": _choice(_ENDED_BY, agreement.ended_by),
        "end_reason": _text(agreement.end_reason),
        "ended_reason": output.get_ended_reason(None, agreement),
        "renewals": [_renewal_output(r) for r in agreement.renewals.all()],
        "affirmation_email_status": output.get_affirmation_email_status(None, agreement),
    }
