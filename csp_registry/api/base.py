"""The base of every CSP API view: auth, permissions, rate limits, idempotent POSTs.

    class AgreementCreateView(CspApiView):
        rate_limit_scope = "agreements"          # optional, see API_RATE_LIMITS

        @extend_schema(request=InputSerializer, responses={201: OutputSerializer})
        @idempotent
        def post(self, request):
            ...

A subclass that defines ``post`` without ``@idempotent`` fails at import.
"""

from django.utils import timezone
from rest_framework.exceptions import APIException
from rest_framework.generics import GenericAPIView
from rest_framework.views import APIView

from csp_registry.services import api_key_record_use

from .authentication import CspKeyAuthentication
from .parsers import LimitedJSONParser, body_size_check
from .permissions import FromRegisteredIpRange, IsActiveCsp
from .ratelimits import RateLimits


class CspApiMixin:
    authentication_classes = [CspKeyAuthentication]
    permission_classes = [IsActiveCsp, FromRegisteredIpRange]
    # 1 MiB and 64 levels at most (the contract's limits).
    parser_classes = [LimitedJSONParser]
    rate_limit_scope = "default"
    # True in a view that calls ``premise_checks_consume`` before it writes
    # anything: the request's counters then go to the cache with the budget's,
    # in one round trip (or, if the view ends without checking premises — a
    # replay, an invalid request — when its response is finalised).
    rate_limits_deferred = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        post = cls.__dict__.get("post")
        if post is not None and not getattr(post, "idempotent", False):
            raise TypeError(f"{cls.__name__}.post must be decorated with @idempotent")

    def initial(self, request, *args, **kwargs):
        # Per IP for every request, so guessing keys is limited too; per CSP
        # once the key is known and allowed. Authentication writes nothing (the
        # key's use is recorded once the limits pass), so a refusal still
        # writes nothing, and all counters go to the cache in one round trip.
        request.rate_limits = limits = RateLimits(
            request, scope=self.rate_limit_scope, key_stale=lambda: self._judge_again(request)
        )
        limits.count(per="ip")
        try:
            body_size_check(request)
            super().initial(request, *args, **kwargs)
        except Exception:
            self._key_use_after_limits(request)
            # A refusal (429, 503) answers first, as before; a key held under
            # an old generation is only forgotten (the request is refused anyway).
            limits.send(key_check=False)
            raise
        self._key_use_after_limits(request)
        limits.count(per="csp")
        if not self.rate_limits_deferred:
            limits.send()

    def _judge_again(self, request):
        """The request's key was held under an older generation: a CSP or a key
        changed since. Authenticate and check permissions again on the key read
        afresh, before the view does anything (``RateLimits.send``)."""
        request._request.api_key = request._request.csp = None
        request._authenticate()
        self.check_permissions(request)

    @staticmethod
    def _key_use_after_limits(request):
        if getattr(request._request, "api_key", None) is not None:
            now = timezone.now()
            # The key as judged last (``_judge_again`` may have read it again).
            request.rate_limits.on_pass.append(
                lambda: api_key_record_use(api_key=request._request.api_key, now=now)
            )

    def finalize_response(self, request, response, *args, **kwargs):
        limits = getattr(request, "rate_limits", None)
        if limits is not None and limits.pending:
            # A deferring view that ended before checking premises: its
            # counters now, and a refusal replaces its answer (it wrote nothing).
            try:
                limits.send()
            except APIException as exc:
                # Refused, or its key changed and no longer lets it through.
                response = self.handle_exception(exc)
        return super().finalize_response(request, response, *args, **kwargs)


class CspApiView(CspApiMixin, APIView):
    pass


class CspGenericApiView(CspApiMixin, GenericAPIView):
    pass
