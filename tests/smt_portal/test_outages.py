"""A dependency down answers 503 "try again", never 500, and writes nothing.

The outage is real: the database connection is pointed at a port where
nothing listens (or, on SQLite, a file that cannot be opened).
"""

import pytest
from django.db import connection
from django.test import Client

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL: SQLite's in-memory test database is lost when closed",
)


@pytest.fixture
def database_down():
    """The next query of this thread fails to connect, as when PostgreSQL restarts."""
    saved = dict(connection.settings_dict)
    connection.close()
    connection.settings_dict.update(HOST="127.0.0.1", PORT="1")
    yield
    connection.close()
    connection.settings_dict.clear()
    connection.settings_dict.update(saved)


@pytest.mark.django_db(transaction=True)
def test_the_api_answers_503_in_the_error_format_when_the_database_is_down(csp_api, database_down):
    response = csp_api.get("/api/v1/reps/")

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "service_unavailable"
    assert int(response["Retry-After"]) > 0


@pytest.mark.django_db(transaction=True)
def test_a_page_says_try_again_in_the_customers_language_when_the_database_is_down(
    database_down,
):
    browser = Client(raise_request_exception=False)

    response = browser.get("/providers/?lang=es")

    assert response.status_code == 503
    assert int(response["Retry-After"]) > 0
    assert "Inténtelo de nuevo en un minuto" in response.content.decode()
