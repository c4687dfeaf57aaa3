"""Input and output shapes of the webhooks API and the event feed (contract, "Webhooks")."""

from rest_framework import serializers

from csp_registry.models import EventType

from ..safety import MAX_URL_LENGTH

FEED_PAGE_SIZE = 100


class EndpointInput(serializers.Serializer):
    url = serializers.CharField(
        max_length=MAX_URL_LENGTH,
        trim_whitespace=False,
        help_text="`https://` on a public host; no user name, password or fragment.",
    )
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=EventType.choices),
        min_length=1,
        max_length=len(EventType.values),
        help_text="The event types this endpoint receives.",
    )


class EndpointOutput(serializers.Serializer):
    id = serializers.IntegerField()
    url = serializers.CharField()
    events = serializers.ListField(child=serializers.CharField(), source="event_types")
    secret_prefix = serializers.CharField(
        help_text="The start of the signing secret, to tell secrets apart."
    )
    created_at = serializers.DateTimeField()
    disabled_at = serializers.DateTimeField(
        allow_null=True,
        help_text="Set when every attempt failed for 72 hours; nothing is sent any more "
        "(register the endpoint again; catch up with the event feed).",
    )
    disabled_reason = serializers.CharField()


class EndpointCreatedOutput(EndpointOutput):
    secret = serializers.CharField(
        help_text="The signing secret (`whsec_…`, Standard Webhooks). Shown only in this "
        "response: store it now."
    )


class AttemptOutput(serializers.Serializer):
    started_at = serializers.DateTimeField()
    duration_ms = serializers.IntegerField()
    status_code = serializers.IntegerField(allow_null=True, help_text="Null: no answer.")
    error = serializers.CharField(help_text="Empty when the receiver answered 2xx.")
    response_excerpt = serializers.CharField(help_text="The answer's first 500 characters.")


class DeliveryOutput(serializers.Serializer):
    id = serializers.IntegerField()
    event_id = serializers.CharField(source="event.public_id")
    event_type = serializers.CharField(source="event.type")
    status = serializers.CharField(
        help_text="`pending`, `sending`, `delivered`, `failed` (its 72 hours passed) or "
        "`cancelled` (the endpoint was deleted or disabled)."
    )
    created_at = serializers.DateTimeField()
    next_attempt_at = serializers.SerializerMethodField()
    deliver_until = serializers.DateTimeField()
    delivered_at = serializers.DateTimeField(allow_null=True)
    last_status_code = serializers.IntegerField(allow_null=True)
    last_error = serializers.CharField()
    attempts = AttemptOutput(many=True, source="attempt_log.all")

    def get_next_attempt_at(self, delivery) -> str | None:
        if delivery.status != "pending":
            return None
        return serializers.DateTimeField().to_representation(delivery.next_attempt_at)


class EventOutput(serializers.Serializer):
    id = serializers.CharField(help_text="`evt_<number>`; also the `webhook-id` header.")
    type = serializers.ChoiceField(choices=EventType.choices)
    timestamp = serializers.DateTimeField()
    data = serializers.JSONField(
        help_text='`{"agreement": <as the API shows it>}`, or `{"csp": {...}}` for `csp.*`.'
    )


class EventPageOutput(serializers.Serializer):
    events = EventOutput(many=True)
    next = serializers.CharField(
        allow_null=True,
        help_text="The last event's id when more follow (pass it as `after`); null when "
        "there are no more.",
    )


class EventFeedQuery(serializers.Serializer):
    after = serializers.RegexField(
        r"^(evt_)?[0-9]{1,18}$",
        required=False,
        help_text="An event id (`evt_123`): only later events. Omit for the oldest.",
    )
    limit = serializers.IntegerField(
        min_value=1, max_value=FEED_PAGE_SIZE, default=FEED_PAGE_SIZE, required=False
    )

    def after_pk(self):
        after = self.validated_data.get("after")
        return int(after.removeprefix("evt_")) if after else 0
