"""Every API error is JSON in the contract's format: never HTML, never a traceback."""

import pytest
from django.urls import include, path

from csp_registry.api.base import CspApiView
from tests.factories import make_rep


class BoomView(CspApiView):
    def get(self, request):
        raise RuntimeError("secret internals")


def plain_django_boom(request):
    raise ZeroDivisionError("plain view")


urlpatterns = [
    path("api/v1/boom/", BoomView.as_view()),
    path("api/v1/plain-boom/", plain_django_boom),
    path("api/v1/", include("smt_portal.api_urls")),
]


def _assert_error_format(response, status, code):
    assert response.status_code == status
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert isinstance(body["error"]["fields"], dict)
    return body


@pytest.fixture(autouse=True)
def _reps(db):
    make_rep("10004")


def test_an_unknown_api_url_is_a_json_404(csp_api):
    _assert_error_format(csp_api.get("/api/v1/nowhere/"), 404, "not_found")


def test_a_wrong_method_is_a_json_405_with_allow(csp_api):
    response = csp_api.delete("/api/v1/reps/")
    _assert_error_format(response, 405, "method_not_allowed")
    assert "GET" in response["Allow"]


def test_malformed_json_is_400_invalid(csp_api):
    response = csp_api.post(
        "/api/v1/premise-authentications/", data="{not json", content_type="application/json"
    )
    _assert_error_format(response, 400, "invalid")


def test_a_non_json_body_is_415(csp_api):
    response = csp_api.post(
        "/api/v1/premise-authentications/", data="esi_id=1", content_type="text/plain"
    )
    _assert_error_format(response, 415, "unsupported_media_type")


def test_a_validation_error_names_each_field(csp_api):
    response = csp_api.post("/api/v1/premise-authentications/", {"esi_id": "12"}, format="json")
    body = _assert_error_format(response, 400, "invalid")
    assert set(body["error"]["fields"]) == {"esi_id", "meter_number", "rep_certificate_number"}


@pytest.mark.urls(__name__)
def test_an_unhandled_exception_in_an_api_view_is_a_json_500_without_internals(csp_api, caplog):
    response = csp_api.get("/api/v1/boom/")
    body = _assert_error_format(response, 500, "server_error")
    assert "secret internals" not in response.content.decode()
    assert "Traceback" not in str(body)
    assert "secret internals" in caplog.text  # logged for us, not shown to them


@pytest.mark.urls(__name__)
def test_an_unhandled_exception_in_a_plain_view_under_api_is_json_too(anonymous_api):
    _assert_error_format(anonymous_api.get("/api/v1/plain-boom/"), 500, "server_error")


def test_a_post_view_without_idempotency_is_refused_at_definition():
    with pytest.raises(TypeError, match="@idempotent"):

        class Careless(CspApiView):
            def post(self, request):
                return None


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path", ["/api/v1/agreements/", "/api/v1/reps/", "/api/v1/premise-authentications/"]
)
def test_options_is_refused_in_the_error_format_not_a_500(csp_api, path):
    response = csp_api.options(path)
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
