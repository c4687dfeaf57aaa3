"""The agreements API: one view per URL, one small method per operation.

Views parse, call one service, and shape the answer. Refusals of the rules
are *returned* (not raised) as error responses, so the premise
authentication attempts a refused request made stay recorded for
monitoring, and an ``Idempotency-Key`` replays the refusal like any answer.
"""

from django.db.models import Prefetch
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response

from csp_registry.api.base import CspApiView, CspGenericApiView
from csp_registry.api.errors import ErrorSerializer, error_response
from csp_registry.api.idempotency import idempotent
from csp_registry.api.ratelimits import premise_checks_consume
from premises.identifiers import ESI_ID_PATTERN
from premises.sandbox import SANDBOX_EMAIL_DOMAIN, is_sandbox_address
from smt_portal.actors import Actor
from smt_portal.client_ip import client_ip

from .. import services
from ..delivery import with_affirmation_email_status
from ..models import Agreement, EndedBy, Renewal
from .serializers import (
    AgreementCreateInput,
    AgreementListFilters,
    AgreementOutput,
    AgreementTerminationInput,
    RenewalCreateInput,
    RenewalOutput,
)

STATUS_FOR_ERROR = {
    services.CspNotActive: 403,
    services.CspProfileIncomplete: 403,
    services.AuthenticationFailed: 422,
    services.TermExceedsLimit: 422,
    services.DuplicateAgreement: 409,
    services.CooldownActive: 409,
    services.AgreementNotPending: 409,
    services.ReminderAlreadySent: 409,
    services.AgreementNotOpen: 409,
    services.RenewalPending: 409,
    services.RenewalNotOpen: 409,
}


def _error(exc):
    fields = None
    if isinstance(exc, services.RenewalNotOpen):
        fields = {"opens_on": exc.opens_on.isoformat()}
    response = error_response(
        status=STATUS_FOR_ERROR[type(exc)], code=exc.code, message=exc.message, fields=fields
    )
    extra = {
        services.AuthenticationFailed: lambda: {"failed_premises": exc.indexes},
        services.TermExceedsLimit: lambda: {"max_term_months": exc.maximum},
        services.DuplicateAgreement: lambda: {"esi_ids": exc.esi_ids},
        services.CooldownActive: lambda: {"esi_ids": exc.esi_ids},
    }.get(type(exc))
    if extra:
        response.data["error"].update(extra())
    return response


def _actor(request):
    return Actor.csp(
        request.csp,
        key_prefix=request.auth.prefix,
        ip=client_ip(request),
        user_agent=request.headers.get("User-Agent", "")[:500],
    )


SANDBOX_ADDRESSES = (
    f"A sandbox key asks only scripted customers at @{SANDBOX_EMAIL_DOMAIN}: opt-in@, "
    "opt-out@, spam@ or no-answer@ (see the quick start)."
)


def agreements_of(csp, *, sandbox=False):
    """A CSP's live (or, for a sandbox key, sandbox) agreements with what the output
    needs, in three queries whatever the count: the two kinds never mix."""
    return with_affirmation_email_status(
        Agreement.objects.filter(csp=csp, sandbox=sandbox)
        .prefetch_related("premises", Prefetch("renewals", Renewal.objects.order_by("pk")))
        .order_by("-pk")
    )


def _error_docs(**codes):
    return {
        status: OpenApiResponse(ErrorSerializer, description=description)
        for status, description in codes.items()
    }


class AgreementPagination(CursorPagination):
    # A cursor stays fast and stable however many agreements a CSP has.
    ordering = "-pk"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


class AgreementsView(CspGenericApiView):
    rate_limit_scope = "agreements"
    pagination_class = AgreementPagination

    @property
    def rate_limits_deferred(self):
        # A creation checks premises before it writes anything: its request
        # counters go to the cache with the premise-check budget's, in one
        # round trip (``premise_checks_consume``). A list sends them at once.
        return self.request.method == "POST"

    @extend_schema(
        operation_id="agreements_list",
        summary="This provider's agreements, newest first",
        parameters=[
            OpenApiParameter(
                "status", str, enum=[c for c, _ in Agreement._meta.get_field("status").choices]
            ),
            OpenApiParameter(
                "esi_id",
                str,
                pattern=ESI_ID_PATTERN,
                description="Only agreements covering this ESI ID (17 or 22 digits).",
            ),
        ],
        responses={200: AgreementOutput(many=True)},
        tags=["agreements"],
    )
    def get(self, request):
        filters = AgreementListFilters(data=request.query_params)
        filters.is_valid(raise_exception=True)
        agreements = agreements_of(request.csp, sandbox=request.auth.sandbox)
        if "status" in filters.validated_data:
            agreements = agreements.filter(status=filters.validated_data["status"])
        if "esi_id" in filters.validated_data:
            agreements = agreements.filter(premises__esi_id=filters.validated_data["esi_id"])
        page = self.paginate_queryset(agreements)
        return self.get_paginated_response(AgreementOutput(page, many=True).data)

    @extend_schema(
        operation_id="agreements_create",
        summary="Ask a customer to affirm sharing (emails the customer)",
        description=(
            "Authenticates every premise, applies the term rules and refuses a second "
            "pending or active agreement for the same ESI ID; then creates the agreement "
            "and queues the affirmation email. The customer's address is never returned."
        ),
        request=AgreementCreateInput,
        responses={
            201: AgreementOutput,
            **_error_docs(
                **{
                    "409": "`duplicate_agreement`: a pending or active agreement of this provider "
                    "already covers an ESI ID (listed in `esi_ids`); `cooldown_active`: the "
                    "customer reported this provider's earlier request for an ESI ID (listed "
                    "in `esi_ids`) as spam, and the staff-set cooldown has not passed.",
                    "422": "`authentication_failed`: `failed_premises` lists the index of each "
                    "premise that did not authenticate (never which fact); "
                    "`term_exceeds_limit`: `max_term_months` states the maximum; "
                    "`idempotency_key_reused`.",
                }
            ),
        },
        tags=["agreements"],
    )
    @idempotent
    def post(self, request):
        data = AgreementCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        if request.auth.sandbox and not is_sandbox_address(data.validated_data["customer_email"]):
            return error_response(
                status=400, code="invalid", message="The request is invalid; see fields.",
                fields={"customer_email": [SANDBOX_ADDRESSES]},
            )  # fmt: skip
        # Every premise is checked as premise authentication checks one, so
        # each is taken from the same budget first (refused whole: 429).
        premise_checks_consume(request, count=len(data.validated_data["premises"]))
        try:
            agreement = services.agreement_request(
                csp=request.csp,
                premises=data.triples(),
                customer_email=data.validated_data["customer_email"],
                term_months=data.validated_data["term_months"],
                language=data.validated_data["language"],
                actor=_actor(request),
                now=timezone.now(),
                sandbox=request.auth.sandbox,
            )
        except services.AgreementError as exc:
            return _error(exc)
        # Answered from the rows just written (no re-read): a new request has
        # these premises, no renewals and its email as queued in the transaction.
        agreement._prefetched_objects_cache = {"premises": agreement.premise_list, "renewals": []}
        return Response(AgreementOutput(agreement).data, status=201)


class AgreementDetailView(CspApiView):
    @extend_schema(
        operation_id="agreements_retrieve",
        summary="One agreement of this provider",
        responses={200: AgreementOutput},
        tags=["agreements"],
    )
    def get(self, request, agreement_id):
        agreement = get_object_or_404(
            agreements_of(request.csp, sandbox=request.auth.sandbox), pk=agreement_id
        )
        return Response(AgreementOutput(agreement).data)


class AgreementReminderView(CspApiView):
    rate_limit_scope = "agreements"

    @extend_schema(
        operation_id="agreements_reminders_create",
        summary="Email the pending request once more (same deadline)",
        request=None,
        responses={
            202: AgreementOutput,
            **_error_docs(
                **{
                    "409": "`reminder_already_sent`: only one reminder per request; "
                    "`agreement_not_pending`: the request was answered or has expired."
                }
            ),
        },
        tags=["agreements"],
    )
    @idempotent
    def post(self, request, agreement_id):
        agreement = get_object_or_404(
            Agreement.objects.filter(csp=request.csp, sandbox=request.auth.sandbox), pk=agreement_id
        )
        try:
            services.agreement_remind(
                agreement=agreement, actor=_actor(request), now=timezone.now()
            )
        except services.AgreementError as exc:
            return _error(exc)
        agreement = agreements_of(request.csp, sandbox=request.auth.sandbox).get(pk=agreement.pk)
        return Response(AgreementOutput(agreement).data, status=202)


class AgreementTerminationView(CspApiView):
    rate_limit_scope = "agreements"

    @extend_schema(
        operation_id="agreements_termination_create",
        summary="End a pending or active agreement now (emails the customer)",
        request=AgreementTerminationInput,
        responses={
            200: AgreementOutput,
            **_error_docs(**{"409": "`agreement_not_active`: the agreement has already ended."}),
        },
        tags=["agreements"],
    )
    @idempotent
    def post(self, request, agreement_id):
        data = AgreementTerminationInput(data=request.data)
        data.is_valid(raise_exception=True)
        agreement = get_object_or_404(
            Agreement.objects.filter(csp=request.csp, sandbox=request.auth.sandbox), pk=agreement_id
        )
        try:
            services.agreement_terminate(
                agreement=agreement,
                ended_by=EndedBy.CSP,
                reason=data.validated_data["reason"],
                actor=_actor(request),
                now=timezone.now(),
            )
        except services.AgreementError as exc:
            return _error(exc)
        agreement = agreements_of(request.csp, sandbox=request.auth.sandbox).get(pk=agreement.pk)
        return Response(AgreementOutput(agreement).data)


class AgreementRenewalsView(CspApiView):
    rate_limit_scope = "agreements"

    @extend_schema(
        operation_id="agreements_renewals_create",
        summary="Ask the customer to renew an active agreement (emails the customer)",
        description=(
            "Large commercial customers (every premise) renew with one click for the "
            "original term; others go through the full affirmation, for the original term "
            "cut to the policy limit. The link times out after five weekdays. A renewal "
            "may be asked for only in the renewal window, the last days of the current term "
            "(60 unless staff set otherwise when the agreement was requested); once renewed, "
            "only in the window before the new term ends."
        ),
        request=RenewalCreateInput,
        responses={
            201: RenewalOutput,
            **_error_docs(
                **{
                    "409": "`agreement_not_active`: only an active agreement within its term "
                    "is renewed; `renewal_pending`: a renewal is already waiting for the "
                    "customer; `renewal_not_open`: too early, the renewal window opens on "
                    '`fields.opens_on` (`"YYYY-MM-DD"`, Central time).'
                }
            ),
        },
        tags=["agreements"],
    )
    @idempotent
    def post(self, request, agreement_id):
        data = RenewalCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        agreement = get_object_or_404(
            Agreement.objects.filter(csp=request.csp, sandbox=request.auth.sandbox).select_related(
                "csp"
            ),
            pk=agreement_id,
        )
        try:
            renewal = services.agreement_renewal_request(
                agreement=agreement,
                customer_email=data.validated_data["customer_email"],
                actor=_actor(request),
                now=timezone.now(),
            )
        except services.AgreementError as exc:
            return _error(exc)
        return Response(RenewalOutput(renewal).data, status=201)
