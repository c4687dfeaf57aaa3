"""The first endpoints of the CSP API; one view per operation."""

from django.db.models import F
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from premises.models import Premise, RetailElectricProvider
from premises.services import premise_authenticate
from smt_portal.client_ip import client_ip
from smt_portal.request_writes import request_writes_defer

from .base import CspApiView
from .fields import CertificateNumberField, EsiIdField, MeterNumberField
from .idempotency import idempotent
from .ratelimits import premise_checks_consume


class RepListView(CspApiView):
    class RepOutput(serializers.Serializer):
        certificate_number = serializers.CharField(help_text="PUCT certificate number.")
        name = serializers.CharField()

    @extend_schema(
        operation_id="reps_list",
        summary="Retail electric providers (the ROR drop-down)",
        responses={200: RepOutput(many=True)},
        tags=["reference"],
    )
    def get(self, request):
        reps = (
            RetailElectricProvider.objects.filter(active=True)
            .order_by("legal_name", "certificate_number")
            .values("certificate_number", name=F("legal_name"))
        )
        return Response(self.RepOutput(reps, many=True).data)


# The one answer to every well-formed request that does not match, whichever
# fact was wrong (R3): the same object, so the same bytes.
NOT_AUTHENTICATED = {"authenticated": False}


class PremiseAuthenticationView(CspApiView):
    # Guessing ESI IDs and meter numbers is the attack: besides the default
    # limits, each check is taken from the premise-check budget, which the
    # agreements endpoint shares (see ratelimits.premise_checks_consume).
    # The request's counters go to the cache with the budget's: one round trip.
    rate_limits_deferred = True

    class PremiseAuthenticationInput(serializers.Serializer):
        esi_id = EsiIdField()
        meter_number = MeterNumberField()
        rep_certificate_number = CertificateNumberField()

    class PremiseAuthenticationOutput(serializers.Serializer):
        authenticated = serializers.BooleanField()
        max_term_months = serializers.IntegerField(
            required=False,
            help_text="Only when authenticated: the longest term this premise may agree to.",
        )

    @extend_schema(
        operation_id="premise_authentications_create",
        summary="Authenticate a premise by ESI ID, meter number and ROR",
        description=(
            "All three facts must match. A mismatch answers 200 "
            '`{"authenticated": false}`, identical whichever fact was wrong. '
            "Every attempt is recorded for monitoring."
        ),
        request=PremiseAuthenticationInput,
        responses={200: PremiseAuthenticationOutput},
        tags=["premises"],
    )
    @idempotent
    def post(self, request):
        facts = self.PremiseAuthenticationInput(data=request.data)
        facts.is_valid(raise_exception=True)
        premise_checks_consume(request, count=1)
        # The attempt is this request's only write: it goes with the request log.
        request_writes_defer()
        result = premise_authenticate(
            **facts.validated_data, csp=request.csp, ip=client_ip(request), now=timezone.now(),
            sandbox=request.auth.sandbox,
        )  # fmt: skip
        if not result.authenticated:
            return Response(NOT_AUTHENTICATED)
        return Response({"authenticated": True, "max_term_months": result.max_term_months})


class BenchFloorView(APIView):
    """The benchmark's floor: DRF and one indexed SELECT, nothing else.

    Mounted only with BENCH_FLOOR_ENDPOINT=1 (see csp_registry/urls.py),
    outside /api/ so no convention (auth, limits, request log) adds to it.
    """

    authentication_classes = []
    permission_classes = []

    @extend_schema(exclude=True)
    def get(self, request):
        found = Premise.objects.filter(esi_id=request.GET.get("esi_id", "")).values("id").first()
        return Response({"found": found is not None})
