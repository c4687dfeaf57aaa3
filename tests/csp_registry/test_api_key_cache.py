"""Each process holds the API keys it has read, and a change to a CSP or a key
still acts on the very next call, in every process (csp_registry/key_cache.py).

The generation a key is held under comes back with every request's rate-limit
script; "another process" below is a change written to the database behind
this process's back, with the new generation it would have drawn on Redis."""

import os
from dataclasses import replace

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from csp_registry import key_cache
from csp_registry.api import authentication
from csp_registry.models import ApiKey, Csp
from csp_registry.services import csp_issue_key, csp_revoke_key, csp_suspend
from smt_portal.actors import Actor
from tests.factories import make_premise, make_rep
from tests.faults import CACHE_DOWN
from tests.personas import api_client_for, make_csp

REPS = "/api/v1/reps/"
AUTHENTICATE = "/api/v1/premise-authentications/"
KEY_TABLE = ApiKey._meta.db_table
CSP_TABLE = Csp._meta.db_table

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL (a real Redis)"),
]


@pytest.fixture(autouse=True)
def _fresh(db):
    make_rep("10004")
    key_cache.keys_forget_all()
    yield
    key_cache.keys_forget_all()


def _key_reads(client, path=REPS):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path)
    return response, sum(KEY_TABLE in q["sql"] and "SELECT" in q["sql"] for q in queries)


def _generation():
    return cache._cache.get_client().get(key_cache.generation_key(cache))


def _prefix(client):
    return client.key.split("_")[1]


def _suspend_behind_the_orms_back(csp):
    with connection.cursor() as cursor:
        suspend = f"UPDATE {CSP_TABLE} SET status = 'suspended' WHERE id = %s"  # noqa: S608
        cursor.execute(suspend, [csp.pk])


def _another_process_suspends(csp):
    """The status changed by another process: in the database, behind this
    process's back, and a new generation on Redis, as its ``api_keys_changed``
    draws."""
    _suspend_behind_the_orms_back(csp)
    cache._cache.get_client().set(key_cache.generation_key(cache), key_cache.generation_candidate())


def test_a_held_key_is_not_read_from_the_database_again():
    client = api_client_for(make_csp())
    response, reads = _key_reads(client)
    assert (response.status_code, reads) == (200, 1)
    response, reads = _key_reads(client)
    assert (response.status_code, reads) == (200, 0)


def test_a_suspension_acts_on_the_very_next_call():
    csp = make_csp()
    client = api_client_for(csp)
    assert client.get(REPS).status_code == 200
    csp_suspend(csp=csp, now=timezone.now(), reason="Red flag.", actor=Actor.system("test"))
    response = client.get(REPS)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "csp_not_active"


def test_a_revoked_key_is_refused_on_the_very_next_call():
    csp = make_csp()
    client = api_client_for(csp)
    assert client.get(REPS).status_code == 200
    csp_revoke_key(api_key=ApiKey.objects.get(prefix=_prefix(client)), now=timezone.now())
    assert client.get(REPS).status_code == 401


def test_registered_ip_ranges_saved_by_staff_act_on_the_very_next_call():
    csp = make_csp()
    client = api_client_for(csp)
    assert client.get(REPS).status_code == 200
    csp.registered_ip_ranges = "203.0.113.0/24"  # the test client calls from 127.0.0.1
    csp.save()
    assert client.get(REPS).status_code == 403


def test_a_change_made_by_another_process_acts_on_the_very_next_call():
    csp = make_csp()
    client = api_client_for(csp)
    assert client.get(REPS).status_code == 200
    _another_process_suspends(csp)
    response, reads = _key_reads(client)
    assert response.status_code == 403
    assert reads == 1  # read again, because the generation changed


def test_a_change_committed_while_the_key_was_being_read_is_not_missed(monkeypatch):
    """The generation a key is held under is read before the key: a change
    committed between the two draws a generation the key was not held under."""
    csp = make_csp()
    client = api_client_for(csp)
    read = authentication.api_key_read

    def read_then_another_process_suspends(prefix):
        api_key = read(prefix)
        monkeypatch.setattr(authentication, "api_key_read", read)
        _another_process_suspends(csp)
        return api_key

    monkeypatch.setattr(authentication, "api_key_read", read_then_another_process_suspends)
    # The call read the key as it was (active) while the change went in; its
    # own rate-limit script already returns the new generation, so the key is
    # read again and the call refused before the view runs.
    response, reads = _key_reads(client)
    assert (response.status_code, reads) == (403, 2)


def test_a_key_held_while_redis_lost_its_data_is_read_again():
    csp = make_csp()
    client = api_client_for(csp)
    assert client.get(REPS).status_code == 200
    _suspend_behind_the_orms_back(csp)
    cache.clear()  # a Redis restarted without its data: the next generation is a new random one
    assert client.get(REPS).status_code == 403


def test_a_process_that_could_not_reach_redis_forgets_every_key_it_held():
    client = api_client_for(make_csp())
    assert client.get(REPS).status_code == 200
    assert key_cache.held_key(_prefix(client)) is not None
    with override_settings(CACHES=CACHE_DOWN):
        assert client.get(REPS).status_code == 503
    assert key_cache.held_key(_prefix(client)) is None


def test_a_premise_check_refused_after_a_suspension_gives_its_budget_back(settings):
    settings.API_RATE_LIMITS = {
        "default": {"ip": "100/m", "csp": "100/m"},
        "premise_authentication": {"ip": "5/h", "csp": "5/h"},
    }
    csp = make_csp()
    client = api_client_for(csp)
    premise = make_premise()
    facts = {"esi_id": premise.esi_id, "meter_number": "X", "rep_certificate_number": "10004"}
    assert client.post(AUTHENTICATE, facts, format="json").status_code == 200
    _another_process_suspends(csp)
    assert client.post(AUTHENTICATE, facts, format="json").status_code == 403
    budgets = [
        int(cache.get(key.decode().split(":", 2)[2]))
        for key in cache._cache.get_client().keys("*premise-checks:*")
    ]
    assert budgets == [1, 1]  # the first request's check only, per IP and per CSP


def test_recording_a_keys_use_draws_no_new_generation():
    client = api_client_for(make_csp())
    generation = _generation()  # drawn when the CSP and its key were saved
    assert client.get(REPS).status_code == 200  # the key's first use is recorded
    assert ApiKey.objects.get(prefix=_prefix(client)).last_used_at is not None
    assert _generation() == generation


def test_every_write_to_csps_or_keys_draws_a_new_generation():
    csp = make_csp()
    generations = [_generation()]

    def drawn():
        generations.append(_generation())
        return generations[-1] != generations[-2]

    _, full_key = csp_issue_key(csp=csp, now=timezone.now())
    assert drawn()  # saved
    Csp.objects.filter(pk=csp.pk).update(contact_name="Ana")
    assert drawn()  # updated through a queryset
    csp.api_keys.filter(revoked_at=None).update(expires_at=timezone.now())
    assert drawn()  # through a related manager
    ApiKey.objects.bulk_update(list(csp.api_keys.all()), ["name"])
    assert drawn()
    csp.api_keys.all().delete()
    assert drawn()  # deleted


def test_a_key_held_past_api_key_cache_seconds_is_read_again(settings):
    client = api_client_for(make_csp())
    client.get(REPS)
    held = key_cache.held_key(_prefix(client))
    key_cache._held[_prefix(client)] = replace(
        held, read_at=held.read_at - settings.API_KEY_CACHE_SECONDS
    )
    assert _key_reads(client)[1] == 1


def test_with_api_key_cache_seconds_0_every_call_reads_its_key(settings):
    settings.API_KEY_CACHE_SECONDS = 0
    client = api_client_for(make_csp())
    assert _key_reads(client)[1] == 1
    assert _key_reads(client)[1] == 1
