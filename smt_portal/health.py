"""Health answers, as JSON.

``/healthz`` (the contract): 200 when the database answers, 503 when it does
not, and each dependency's state. ``monitoring`` names the detectors whose
last run failed, ``outbox`` the emails still unsent long after they were due,
``worker`` the age of the Celery worker's last heartbeat, ``record_checkpoints``
whether the record's checkpoints can be signed (a key in production): each is an
operator's problem even though the portal itself still serves, so they report
without turning the answer into a 503.

``/healthz/live`` (liveness): 200 whenever the process answers; it touches no
dependency, so restarting on its failure never restarts a healthy process
because Redis or PostgreSQL is down.

``/healthz/ready`` (readiness, for a load balancer): 503 when the API cannot
serve — the database or the cache (rate limits, idempotency, the challenge's
replay store) does not answer. The broker is not asked: with it down, emails
wait in the outbox and the relay sends them later.
"""

from datetime import timedelta

from celery import current_app
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.models import Count, Min
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_safe


def _database():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _cache():
    cache.set("healthz", "ok", timeout=10)
    if cache.get("healthz") != "ok":
        raise RuntimeError("cache did not return the value just written")


# Bounds the broker probe's socket reads, not only its connecting: a Redis that
# accepts connections but never answers would otherwise hang /healthz.
BROKER_PROBE_TIMEOUT = 2


def _broker():
    bounded = {
        "socket_timeout": BROKER_PROBE_TIMEOUT,
        "socket_connect_timeout": BROKER_PROBE_TIMEOUT,
    }
    with current_app.connection_for_write(transport_options=bounded) as conn:
        # One attempt: a health check reports the state now, it does not wait it out.
        conn.ensure_connection(max_retries=1, interval_start=0, timeout=BROKER_PROBE_TIMEOUT)


def _monitoring():
    """The detectors whose last run failed, and when the sweep last ran: one
    query on ``DetectorRun`` (one row per detector)."""
    from monitoring.models import DetectorRun

    rows = list(DetectorRun.objects.order_by("detector").values_list("detector", "ok",
                                                                      "finished_at"))  # fmt: skip
    failing = [name for name, ok, _ in rows if not ok]
    last = max((finished for _, _, finished in rows), default=None)
    return {"failing_detectors": failing, "last_run_at": last.isoformat() if last else None}


def _outbox(now):
    """Emails still unsent (pending, or claimed by a sender that never came
    back) more than ``HEALTHZ_OUTBOX_OVERDUE_MINUTES`` after they were due: the
    worker or the relay is not sending. One query, on the partial index of
    unsent rows."""
    from outbox.models import UNSENT_STATUSES, OutboundEmail

    minutes = settings.HEALTHZ_OUTBOX_OVERDUE_MINUTES
    found = OutboundEmail.objects.filter(
        status__in=UNSENT_STATUSES, next_attempt_at__lt=now - timedelta(minutes=minutes)
    ).aggregate(overdue=Count("pk"), oldest=Min("next_attempt_at"))
    oldest = found["oldest"]
    return {
        "ok": not found["overdue"],
        "overdue_emails": found["overdue"],
        "oldest_overdue_seconds": round((now - oldest).total_seconds()) if oldest else None,
        "overdue_after_minutes": minutes,
    }


def _worker(now):
    """The age of the worker's last heartbeat (beat queues it every minute, only
    a consuming worker runs it): one query. No heartbeat at all is a failure."""
    from smt_portal.models import WorkerHeartbeat

    limit = settings.HEALTHZ_WORKER_MAX_AGE_MINUTES
    beat = WorkerHeartbeat.last()
    if beat is None:
        return {"ok": False, "heartbeat_age_seconds": None, "last_heartbeat_at": None,
                "ran_by": None, "max_age_minutes": limit}  # fmt: skip
    age = (now - beat.beat_at).total_seconds()
    return {
        "ok": age <= limit * 60,
        "heartbeat_age_seconds": round(age),
        "last_heartbeat_at": beat.beat_at.isoformat(),
        "ran_by": beat.ran_by,
        "max_age_minutes": limit,
    }


def _record_checkpoints():
    """Whether the record's checkpoints can be signed (production needs
    ``RECORD_CHECKPOINT_SIGNING_KEY``) and when the last was sealed: one query."""
    from affirmations.checkpoints import checkpoint_signing_key
    from affirmations.models import RecordCheckpoint

    signing_key = checkpoint_signing_key() is not None
    last = RecordCheckpoint.objects.order_by("-id").values_list("sealed_at", flat=True).first()
    return {
        "ok": signing_key,
        "signing_key": signing_key,
        "last_sealed_at": last.isoformat() if last else None,
        "every_seconds": settings.RECORD_CHECKPOINT_EVERY,
    }


def _probe(check):
    try:
        check()
    except Exception as exc:  # a health check reports every failure, whatever it is
        return {"ok": False, "error": exc.__class__.__name__}
    return {"ok": True}


def _database_report(database_ok, report):
    """A check that reads the database: its findings, ``ok`` decided by them."""
    if not database_ok:  # reported once, as the database's failure
        return {"ok": False, "error": "database"}
    try:
        return report()
    except Exception as exc:
        return {"ok": False, "error": exc.__class__.__name__}


def _monitoring_report():
    found = _monitoring()
    return {"ok": not found["failing_detectors"], **found}


@never_cache
@require_GET
def healthz(request):
    now = timezone.now()
    checks = {"database": _probe(_database), "cache": _probe(_cache), "broker": _probe(_broker)}
    database_ok = checks["database"]["ok"]
    checks["monitoring"] = _database_report(database_ok, _monitoring_report)
    checks["outbox"] = _database_report(database_ok, lambda: _outbox(now))
    checks["worker"] = _database_report(database_ok, lambda: _worker(now))
    checks["record_checkpoints"] = _database_report(database_ok, _record_checkpoints)
    # The database alone decides 503; the other checks are reported, not fatal.
    status = 200 if database_ok else 503
    return JsonResponse(
        {"status": "ok" if status == 200 else "unavailable", "checks": checks}, status=status
    )


@never_cache
@require_safe
def live(request):
    return JsonResponse({"status": "ok"})


@never_cache
@require_safe
def ready(request):
    checks = {"database": _probe(_database), "cache": _probe(_cache)}
    serving = all(check["ok"] for check in checks.values())
    return JsonResponse(
        {"status": "ready" if serving else "unavailable", "checks": checks},
        status=200 if serving else 503,
    )
