"""/healthz: 200 when the database answers; each dependency's state as JSON.

``monitoring`` names the detectors whose last run failed: a sweep that is
blind is an operator's problem even though the portal itself still serves,
so it reports without turning the answer into a 503.
"""

from celery import current_app
from django.core.cache import cache
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET


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


def _probe(check):
    try:
        check()
    except Exception as exc:  # a health check reports every failure, whatever it is
        return {"ok": False, "error": exc.__class__.__name__}
    return {"ok": True}


def _monitoring_probe(database_ok):
    if not database_ok:  # reported once, as the database's failure
        return {"ok": False, "error": "database"}
    try:
        found = _monitoring()
    except Exception as exc:
        return {"ok": False, "error": exc.__class__.__name__}
    return {"ok": not found["failing_detectors"], **found}


@never_cache
@require_GET
def healthz(request):
    checks = {"database": _probe(_database), "cache": _probe(_cache), "broker": _probe(_broker)}
    checks["monitoring"] = _monitoring_probe(checks["database"]["ok"])
    # The database alone decides 503; a failing detector is reported, not fatal.
    status = 200 if checks["database"]["ok"] else 503
    return JsonResponse(
        {"status": "ok" if status == 200 else "unavailable", "checks": checks}, status=status
    )
