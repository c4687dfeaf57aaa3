"""Webhook endpoints, their deliveries and the event feed: one view per URL.

Views parse, call one service and shape the answer. The signing secret is
in exactly one response, the endpoint's creation; an ``Idempotency-Key``
replay repeats it, rebuilt from the seal the stored response holds (the
stored response never contains the secret itself).
"""

from django.db.models import Q
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.pagination import CursorPagination
from rest_framework.permissions import BasePermission
from rest_framework.response import Response

from csp_registry.api.base import CspApiView, CspGenericApiView
from csp_registry.api.errors import ApiError, ErrorSerializer, error_response
from csp_registry.api.idempotency import idempotent
from csp_registry.api.permissions import CspNotActive, FromRegisteredIpRange
from csp_registry.events import event_payload
from csp_registry.models import CspEvent, CspStatus

from .. import services
from ..models import WebhookDelivery, WebhookEndpoint
from ..signing import secret_of
from .serializers import (
    DeliveryOutput,
    EndpointCreatedOutput,
    EndpointInput,
    EndpointOutput,
    EventFeedQuery,
    EventPageOutput,
)

_SEALED = "sealed:"


def _docs(**codes):
    return {
        status: OpenApiResponse(ErrorSerializer, description=description)
        for status, description in codes.items()
    }


MAX_ID = 2**63 - 1  # a larger number in a URL names no row (and overflows the column)


def _ids_or_404(*ids):
    if any(value > MAX_ID for value in ids):
        raise Http404


def _endpoints_of(csp):
    return WebhookEndpoint.objects.filter(csp=csp, deleted_at=None)


class WebhookEndpointsView(CspApiView):
    @extend_schema(
        operation_id="webhook_endpoints_list",
        summary="This provider's webhook endpoints (without their secrets)",
        responses={200: EndpointOutput(many=True)},
        tags=["webhooks"],
    )
    def get(self, request):
        endpoints = _endpoints_of(request.csp).order_by("pk")
        return Response(EndpointOutput(endpoints, many=True).data)

    @extend_schema(
        operation_id="webhook_endpoints_create",
        summary="Register an endpoint; the answer holds its signing secret, once",
        description=(
            "Events are POSTed as JSON, signed as the Standard Webhooks specification says "
            "(`webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64 HMAC-SHA256>`), "
            "and retried with backoff for 72 hours. The URL must be `https://` on a public "
            "host; the address it resolves to is checked again at every attempt, and "
            "redirects are not followed. At most 10 endpoints per provider."
        ),
        request=EndpointInput,
        responses={201: EndpointCreatedOutput},
        tags=["webhooks"],
    )
    @idempotent
    def post(self, request):
        data = EndpointInput(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            endpoint, _secret = services.endpoint_create(
                csp=request.csp,
                url=data.validated_data["url"],
                event_types=data.validated_data["events"],
                now=timezone.now(),
            )
        except services.EndpointInvalid as exc:
            raise ApiError(
                status=400, code="invalid", message="The request is invalid; see fields.",
                fields=exc.fields,
            ) from None  # fmt: skip
        body = EndpointOutput(endpoint).data
        # The seal, not the secret, is what an idempotent replay stores; see finalize_response.
        return Response({**body, "secret": _SEALED + endpoint.secret_seal}, status=201)

    def finalize_response(self, request, response, *args, **kwargs):
        data = getattr(response, "data", None)
        if isinstance(data, dict) and str(data.get("secret", "")).startswith(_SEALED):
            data["secret"] = secret_of(data["secret"].removeprefix(_SEALED))
        return super().finalize_response(request, response, *args, **kwargs)


class WebhookEndpointView(CspApiView):
    @extend_schema(
        operation_id="webhook_endpoints_destroy",
        summary="Delete an endpoint: nothing more is sent to it",
        request=None,
        responses={204: None},
        tags=["webhooks"],
    )
    def delete(self, request, endpoint_id):
        _ids_or_404(endpoint_id)
        endpoint = get_object_or_404(_endpoints_of(request.csp), pk=endpoint_id)
        services.endpoint_delete(endpoint=endpoint, now=timezone.now())
        return Response(status=204)


class DeliveryPagination(CursorPagination):
    ordering = "-pk"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 100


def deliveries_of(endpoint_id):
    """An endpoint's deliveries with their events and attempts: three queries per page."""
    return (
        WebhookDelivery.objects.filter(endpoint_id=endpoint_id)
        .select_related("event")
        .prefetch_related("attempt_log")
    )


class WebhookDeliveriesView(CspGenericApiView):
    pagination_class = DeliveryPagination

    @extend_schema(
        operation_id="webhook_deliveries_list",
        summary="An endpoint's deliveries, newest first, each with its attempts",
        responses={200: DeliveryOutput(many=True)},
        tags=["webhooks"],
    )
    def get(self, request, endpoint_id):
        _ids_or_404(endpoint_id)
        endpoint = get_object_or_404(
            WebhookEndpoint.objects.filter(csp=request.csp), pk=endpoint_id
        )
        page = self.paginate_queryset(deliveries_of(endpoint.pk))
        return self.get_paginated_response(DeliveryOutput(page, many=True).data)


class WebhookDeliveryResendView(CspApiView):
    @extend_schema(
        operation_id="webhook_deliveries_resend",
        summary="Send a delivery again now (a fresh 72 hours of retries)",
        request=None,
        responses={
            202: DeliveryOutput,
            **_docs(
                **{
                    "409": "`delivery_not_resendable`: it is being sent this moment, or "
                    "its endpoint was deleted or disabled."
                }
            ),
        },  # fmt: skip
        tags=["webhooks"],
    )
    @idempotent
    def post(self, request, endpoint_id, delivery_id):
        _ids_or_404(endpoint_id, delivery_id)
        delivery = get_object_or_404(
            WebhookDelivery.objects.filter(endpoint__csp=request.csp, endpoint_id=endpoint_id),
            pk=delivery_id,
        )
        if not services.delivery_resend(delivery_id=delivery.pk, now=timezone.now()):
            return error_response(
                status=409, code="delivery_not_resendable",
                message="This delivery is being sent now, or its endpoint was deleted or "
                "disabled.",
            )  # fmt: skip
        return Response(DeliveryOutput(deliveries_of(endpoint_id).get(pk=delivery.pk)).data,
                        status=202)  # fmt: skip


class MayReadEvents(BasePermission):
    """An active or suspended CSP reads its feed (the contract: "a suspended CSP may
    read it"); a pending or revoked one gets 403 ``csp_not_active``, 401 without a key."""

    def has_permission(self, request, view):
        csp = getattr(request, "csp", None)
        if csp is None:
            return False
        if csp.status not in (CspStatus.ACTIVE, CspStatus.SUSPENDED):
            raise CspNotActive(
                f"This provider is {CspStatus(csp.status).label.lower()}; "
                "only active and suspended providers read their events."
            )
        return True


class EventFeedView(CspApiView):
    permission_classes = [MayReadEvents, FromRegisteredIpRange]

    @extend_schema(
        operation_id="events_list",
        summary="This provider's events, oldest first: poll, or catch up after an outage",
        description=(
            "The same events the webhooks carry, in order. `next` is the last event id of "
            "the page (null when the page is empty): pass it as `after` to read on, and keep "
            "polling with it. A suspended provider may read it."
        ),
        parameters=[EventFeedQuery],
        responses={200: EventPageOutput},
        tags=["events"],
    )
    def get(self, request):
        query = EventFeedQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        limit = query.validated_data["limit"]
        # A live key reads the live agreements' events, a sandbox key the sandbox's;
        # both read the provider's own (csp.suspended, csp.reinstated).
        mode = (
            Q(sandbox=True) | Q(agreement_id__isnull=True)
            if request.auth.sandbox
            else Q(sandbox=False)
        )
        events = list(
            CspEvent.objects.filter(mode, csp=request.csp, pk__gt=query.after_pk()).order_by("pk")[
                :limit
            ]
        )
        events = events[:limit]
        # Always the cursor to poll from next: a client never computes it itself.
        return Response({
            "events": [event_payload(event) for event in events],
            "next": events[-1].public_id if events else None,
        })  # fmt: skip
