"""The three meter-data endpoints: 15-minute intervals, daily and monthly usage.

Each read is checked at read time by the one rule (``services.data_read_authorise``),
answered as a stream in the format asked for (``?format=`` or ``Accept``), and
logged whatever the outcome: refusals as they are answered (401, 403, 404,
409, 422, 429 alike), served reads once their body has been written.
"""

import datetime

from django.http import HttpResponse, StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.renderers import JSONRenderer

from csp_registry.api.base import CspApiView
from csp_registry.api.errors import ERROR_CODE_ATTRIBUTE, ApiError, ErrorSerializer, error_response
from premises.identifiers import ESI_ID_PATTERN, InvalidIdentifier, normalize_esi_id
from smt_portal.client_ip import client_ip

from .. import formats
from ..models import DataFormat, DataKind
from ..services import (
    MAX_DAYS,
    DataAccessDraft,
    DataRefused,
    data_access_log_write,
    data_read_authorise,
)


class ErrorsInJson(BaseContentNegotiation):
    """Errors are JSON whatever was asked; the data's own format is the view's choice
    (so DRF does not read ``?format=csv`` as a renderer it lacks)."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return JSONRenderer(), JSONRenderer.media_type

    def select_parser(self, request, parsers):
        return None


class DataRangeQuery(serializers.Serializer):
    esi_id = serializers.CharField(max_length=64)
    start = serializers.DateField(input_formats=["%Y-%m-%d"], help_text="First local day.")
    end = serializers.DateField(input_formats=["%Y-%m-%d"], help_text="Last day, inclusive.")
    format = serializers.ChoiceField(choices=DataFormat.values, required=False)

    def validate_esi_id(self, value):
        try:
            return normalize_esi_id(value)
        except InvalidIdentifier as exc:
            raise serializers.ValidationError(str(exc)) from None

    def validate(self, data):
        if data["end"] < data["start"]:
            raise serializers.ValidationError({"end": ["The end is before the start."]})
        if (data["end"] - data["start"]).days + 1 > MAX_DAYS:
            raise serializers.ValidationError(
                {"end": [f"At most {MAX_DAYS} days per request; ask for the rest separately."]}
            )
        return data


def _format_asked(request, query):
    if "format" in query:
        return query["format"]
    accept = request.headers.get("Accept", "")
    if not accept.strip():
        return DataFormat.JSON
    for media_range in accept.split(","):
        media_type = media_range.split(";")[0].strip().lower()
        if media_type in formats.ACCEPTED:
            return formats.ACCEPTED[media_type]
    raise ApiError(
        status=406, code="not_acceptable",
        message="Data is served as application/json, text/csv or application/atom+xml.",
    )  # fmt: skip


def _not_modified(request, etag):
    asked = request.headers.get("If-None-Match", "")
    tags = {tag.strip().removeprefix("W/") for tag in asked.split(",")}
    return f'"{etag}"' in tags or "*" in tags


def _agreement_id(value):
    # A bigint column: an id no agreement can have is not kept (and not looked up).
    return value if isinstance(value, int) and 0 < value < 2**63 else None


def _date_or_none(text):
    try:
        return datetime.date.fromisoformat(text) if text and len(text) == 10 else None
    except ValueError:
        return None


_QUERY_PARAMETERS = [
    OpenApiParameter("esi_id", str, required=True, pattern=ESI_ID_PATTERN,
                     description="An ESI ID of the agreement, e.g. `10443720099000001`."),
    OpenApiParameter("start", OpenApiTypes.DATE, required=True, description="First local day."),
    OpenApiParameter("end", OpenApiTypes.DATE, required=True,
                     description=f"Last local day, inclusive; at most {MAX_DAYS} days."),
    OpenApiParameter("format", str, enum=DataFormat.values,
                     description="json (default), csv or espi (Green Button); or use Accept."),
]  # fmt: skip
_ERRORS = {
    status: OpenApiResponse(ErrorSerializer, description=text)
    for status, text in {
        400: "`invalid`: a parameter (named in `fields`), more than 366 days, or an ESI ID "
        "that is not the agreement's.",
        404: "Not this provider's agreement.",
        406: "`not_acceptable`: an Accept header naming no format offered.",
        409: "`agreement_not_active`: pending, ended, or its term is over.",
        422: "`outside_data_window`: `fields.from` and `fields.to` give the days allowed.",
    }.items()
}


class MeterDataView(CspApiView):
    """A read of one premise's data under one agreement; subclasses say what is read."""

    content_negotiation_class = ErrorsInJson
    kind: str = ""

    def initial(self, request, *args, **kwargs):
        # The log entry exists before anything can refuse the call.
        params = request.query_params
        self.draft = DataAccessDraft(
            created_at=timezone.now(), kind=self.kind, ip=client_ip(request),
            agreement_id=_agreement_id(kwargs.get("agreement_id")),
            esi_id=params.get("esi_id", "")[:22],
            start=_date_or_none(params.get("start")), end=_date_or_none(params.get("end")),
            format=params.get("format", "") if params.get("format") in DataFormat.values else "",
        )  # fmt: skip
        super().initial(request, *args, **kwargs)

    def get(self, request, agreement_id):
        query = DataRangeQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        asked = query.validated_data
        draft = self.draft
        draft.format = _format_asked(request, asked)
        draft.esi_id, draft.start, draft.end = asked["esi_id"], asked["start"], asked["end"]
        try:
            grant = data_read_authorise(
                csp=request.csp, agreement_id=draft.agreement_id, esi_id=asked["esi_id"],
                start=asked["start"], end=asked["end"], now=timezone.now(),
                sandbox=request.auth.sandbox,
            )  # fmt: skip
        except DataRefused as refused:
            return error_response(status=refused.status, code=refused.code,
                                  message=refused.message, fields=refused.fields)  # fmt: skip
        draft.premise_id = grant.premise.pk
        return self.answer(request, draft)

    def answer(self, request, draft):
        read = formats.UsageRead(
            kind=self.kind, premise_id=draft.premise_id, start=draft.start, end=draft.end
        )
        url = request.build_absolute_uri()

        def chunks():
            return read.chunks(format=draft.format, esi_id=draft.esi_id, feed_url=url,
                               now=timezone.now(), count=draft.count)  # fmt: skip

        return self.respond(request, draft, stamped=read.stamped,
                            extra_stamps=read.extra_stamps, chunks=chunks)  # fmt: skip

    def respond(self, request, draft, *, stamped, extra_stamps, chunks):
        """304 when the client holds this very answer; else the stream, counted and logged."""
        draft.etag = stamped.fingerprint(self.kind, draft.format, draft.esi_id, draft.start,
                                         draft.end, *extra_stamps)  # fmt: skip
        draft.revision_latest = stamped.revision_latest
        headers = {
            "ETag": f'"{draft.etag}"',
            # Revalidate every time: access is checked again before a 304, and a
            # revision of any day changes the tag.
            "Cache-Control": "private, no-cache",
            "Vary": "Accept, Authorization",
        }
        if _not_modified(request, draft.etag):
            response = HttpResponse(status=304)
        else:
            response = StreamingHttpResponse(
                self._logged(chunks(), draft), content_type=formats.MEDIA_TYPES[draft.format]
            )
            if draft.format != DataFormat.JSON:
                name = formats.attachment_name(esi_id=draft.esi_id, kind=self.kind,
                                               format=draft.format, start=draft.start,
                                               end=draft.end)  # fmt: skip
                headers["Content-Disposition"] = f'attachment; filename="{name}"'
        for name, value in headers.items():
            response[name] = value
        return response

    @staticmethod
    def _logged(chunks, draft):
        completed = False
        try:
            for chunk in chunks:
                yield chunk.encode()
            completed = True
        finally:
            # Also when the client went away mid-body (the server closes us).
            draft.completed = completed
            data_access_log_write(draft)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        draft = getattr(self, "draft", None)
        if draft is None:
            return response
        csp = getattr(request, "csp", None)
        draft.csp_id = csp.pk if csp is not None else None
        draft.key_prefix = getattr(request, "api_key_prefix", "")
        draft.sandbox = getattr(getattr(request._request, "api_key", None), "sandbox", False)
        draft.status_code = response.status_code
        draft.error_code = getattr(response, ERROR_CODE_ATTRIBUTE, "")
        if response.streaming:

            def unstarted():
                # The body was never iterated: nothing was sent.
                if not draft.written:
                    draft.completed = False
                    data_access_log_write(draft)

            response._resource_closers.append(unstarted)
        else:
            data_access_log_write(draft)
        return response


def _schema(summary, json_shape):
    return extend_schema(
        summary=summary,
        description=(
            "Served only while the agreement is active and its provider active, for an ESI "
            "ID of the agreement, for local days (America/Chicago) inside its data window: "
            "from the history window's start (never before the current occupant moved in) "
            "to today. A range reaching outside the window is refused whole. The body is "
            "streamed; `ETag` identifies the data's revisions, and `If-None-Match` with it "
            "answers 304. Every read, served or refused, is logged and shown to the customer."
        ),
        parameters=_QUERY_PARAMETERS,
        responses={
            (200, "application/json"): json_shape,
            (200, "text/csv"): OpenApiTypes.STR,
            (200, "application/atom+xml"): OpenApiTypes.STR,
            **_ERRORS,
            304: OpenApiResponse(description="Not modified: `If-None-Match` named this ETag."),
        },
        tags=["meter data"],
    )


class _IntervalDay(serializers.Serializer):
    date = serializers.DateField()
    kwh = serializers.ListField(child=serializers.DecimalField(max_digits=12, decimal_places=3))
    estimated = serializers.ListField(
        child=serializers.IntegerField(), help_text="Zero-based indexes into kwh."
    )
    surplus_kwh = serializers.ListField(
        child=serializers.DecimalField(max_digits=12, decimal_places=3), required=False
    )
    revision_at = serializers.DateTimeField()


class _Range(serializers.Serializer):
    esi_id = serializers.CharField()
    timezone = serializers.CharField()
    unit = serializers.CharField()
    start = serializers.DateField()
    end = serializers.DateField()


class IntervalDataOutput(_Range):
    days = _IntervalDay(many=True)


class _DailyFigure(serializers.Serializer):
    date = serializers.DateField()
    kwh = serializers.DecimalField(max_digits=14, decimal_places=3)
    estimated = serializers.BooleanField()
    intervals = serializers.IntegerField()
    complete = serializers.BooleanField()
    source = serializers.ChoiceField(choices=["intervals"])


class DailyUsageOutput(_Range):
    days = _DailyFigure(many=True)


class _MonthlyFigure(serializers.Serializer):
    month = serializers.CharField(help_text="YYYY-MM")
    kwh = serializers.DecimalField(max_digits=14, decimal_places=3)
    source = serializers.ChoiceField(choices=["intervals", "billing"])
    complete = serializers.BooleanField(help_text="The whole calendar month is in it.")
    days = serializers.IntegerField(help_text="Days summed from intervals (0 for billing).")


class MonthlyUsageOutput(_Range):
    months = _MonthlyFigure(many=True)


class IntervalDataView(MeterDataView):
    kind = DataKind.INTERVALS

    @_schema("15-minute kWh of one premise, local days start..end", IntervalDataOutput)
    def get(self, request, agreement_id):
        return super().get(request, agreement_id)


class DailyUsageView(MeterDataView):
    kind = DataKind.DAILY

    @_schema("Daily kWh of one premise, summed from its 15-minute data", DailyUsageOutput)
    def get(self, request, agreement_id):
        return super().get(request, agreement_id)


class MonthlyUsageView(MeterDataView):
    kind = DataKind.MONTHLY

    @_schema("Monthly kWh of one premise: from 15-minute data, else billing", MonthlyUsageOutput)
    def get(self, request, agreement_id):
        return super().get(request, agreement_id)
