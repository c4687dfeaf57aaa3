from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from csp_registry.models import IdempotencyKey
from tests.personas import make_csp


@pytest.mark.django_db
def test_run_jobs_purges_expired_idempotency_keys():
    now = timezone.now()
    IdempotencyKey.objects.create(
        csp=make_csp(),
        key="old",
        request_hash="0" * 64,
        created_at=now - timedelta(days=2),
        expires_at=now - timedelta(days=1),
    )
    call_command("run_jobs", "--only", "csp_registry.tasks.purge_expired_idempotency_keys")
    assert not IdempotencyKey.objects.exists()
