"""The base of every CSP API view: auth, permissions, rate limits, idempotent POSTs.

    class AgreementCreateView(CspApiView):
        rate_limit_scope = "agreements"          # optional, see API_RATE_LIMITS

        @extend_schema(request=InputSerializer, responses={201: OutputSerializer})
        @idempotent
        def post(self, request):
            ...

A subclass that defines ``post`` without ``@idempotent`` fails at import.
"""

from rest_framework.generics import GenericAPIView
from rest_framework.views import APIView

from .authentication import CspKeyAuthentication
from .parsers import LimitedJSONParser, body_size_check
from .permissions import FromRegisteredIpRange, IsActiveCsp
from .ratelimits import enforce_rate_limits


class CspApiMixin:
    authentication_classes = [CspKeyAuthentication]
    permission_classes = [IsActiveCsp, FromRegisteredIpRange]
    # 1 MiB and 64 levels at most (the contract's limits).
    parser_classes = [LimitedJSONParser]
    rate_limit_scope = "default"

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        post = cls.__dict__.get("post")
        if post is not None and not getattr(post, "idempotent", False):
            raise TypeError(f"{cls.__name__}.post must be decorated with @idempotent")

    def initial(self, request, *args, **kwargs):
        # Per IP before authentication, so guessing keys is limited too; per
        # CSP after it. Both before the view runs, so a refusal writes nothing.
        enforce_rate_limits(request, scope=self.rate_limit_scope, per="ip")
        body_size_check(request)
        super().initial(request, *args, **kwargs)
        enforce_rate_limits(request, scope=self.rate_limit_scope, per="csp")


class CspApiView(CspApiMixin, APIView):
    pass


class CspGenericApiView(CspApiMixin, GenericAPIView):
    pass
