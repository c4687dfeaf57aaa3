"""Every response carries the Content-Security-Policy; inline scripts run only with its nonce.

A real browser checks that the pages break no rule of it
(tests/browser/test_content_security_policy.py).
"""

import re

import pytest
from django.contrib.auth import get_user_model

pytestmark = pytest.mark.django_db

EXPECTED = {
    "default-src": "'self'",
    "script-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
    "worker-src": "'self' blob:",
}


def directives(response):
    header = response["Content-Security-Policy"]
    return dict(part.strip().split(" ", 1) for part in header.split(";"))


def assert_policy(response):
    policy = directives(response)
    for name, value in EXPECTED.items():
        assert policy[name].startswith(value), (name, policy[name])
    assert "unsafe-inline" not in policy["script-src"]
    assert "unsafe-eval" not in policy["script-src"]


@pytest.fixture
def staff_client(client):
    user = get_user_model().objects.create_superuser("committee", "c@example.com", "pw")
    client.force_login(user)
    return client


@pytest.mark.parametrize(
    "path", ["/report/", "/providers/", "/csp/register/", "/account/login/", "/healthz"]
)
def test_public_pages_carry_the_policy(client, path):
    response = client.get(path)

    assert response.status_code in (200, 503)
    assert_policy(response)


@pytest.mark.parametrize("path", ["/admin/", "/admin/csp_registry/csp/", "/admin/login/"])
def test_admin_pages_carry_the_policy(staff_client, path):
    assert_policy(staff_client.get(path))


def test_api_json_carries_the_policy(csp_api):
    response = csp_api.get("/api/v1/reps/")

    assert response.status_code == 200
    assert_policy(response)


def test_api_json_errors_written_by_the_api_middleware_carry_the_policy(anonymous_api):
    response = anonymous_api.get("/api/v1/no-such-thing/")

    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    assert_policy(response)


def test_the_api_docs_start_up_script_runs_by_this_responses_nonce(client):
    first, second = client.get("/api/v1/docs/"), client.get("/api/v1/docs/")

    assert_policy(first)
    nonce = re.search(r"'nonce-([^']+)'", directives(first)["script-src"]).group(1)
    inline_scripts = re.findall(r"<script( nonce=\"[^\"]*\")?>", first.content.decode())
    assert inline_scripts == [f' nonce="{nonce}"']
    assert nonce not in second["Content-Security-Policy"]  # a new one each time


def test_pages_without_inline_scripts_allow_none(client):
    page = client.get("/report/")

    assert directives(page)["script-src"] == "'self'"
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page.content.decode())
