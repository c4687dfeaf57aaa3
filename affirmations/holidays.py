"""The staff-edited holiday calendar of the five-weekday rule.

``holiday_add`` / ``holiday_remove`` change it and write the change to the
record in the same transaction. ``holidays_from_database`` is registered with
``smt_portal.calendar`` (``AffirmationsConfig.ready``), so every deadline
computed after a change counts it; deadlines already stored never change.

Reading is cached for the length of one web request only (a link's page may
compute several deadlines); outside a request every call reads the table, and
any change in this process empties the cache, so no process keeps an old
calendar.
"""

import threading

from django.core.signals import request_finished, request_started
from django.db import transaction

from .models import Holiday, RecordEvent
from .records import record_append

_cache = threading.local()


def _scope_open(**kwargs):
    _cache.active = True
    _cache.days = None


def _scope_close(**kwargs):
    _cache.active = False
    _cache.days = None


def holidays_cache_clear():
    _cache.days = None


def holidays_from_database():
    """Every holiday day staff entered (a small table: read whole)."""
    if getattr(_cache, "active", False):
        if _cache.days is None:
            _cache.days = frozenset(Holiday.objects.values_list("day", flat=True))
        return _cache.days
    return frozenset(Holiday.objects.values_list("day", flat=True))


def holidays_prime(days):
    """Keep ``days``, just read from the table with other rows, as this web
    request's calendar (outside a web request: nothing is kept)."""
    if getattr(_cache, "active", False):
        _cache.days = frozenset(days)


def holidays_cache_subscribe():
    request_started.connect(_scope_open, dispatch_uid="affirmations.holidays.open")
    request_finished.connect(_scope_close, dispatch_uid="affirmations.holidays.close")


def _details(holiday, change):
    return {"change": change, "holiday": holiday.day.isoformat(), "name": holiday.name}


def holiday_add(*, day, name, actor, now, user=None):
    """Add ``day`` to the calendar; recorded as ``holiday_added``."""
    with transaction.atomic():
        holiday = Holiday.objects.create(day=day, name=name, created_at=now, created_by=user)
        record_append(
            event=RecordEvent.OTHER,
            actor=actor,
            now=now,
            details=_details(holiday, "holiday_added"),
        )
    holidays_cache_clear()
    return holiday


def holiday_remove(*, holiday, actor, now):
    """Take ``holiday`` off the calendar; recorded as ``holiday_removed``."""
    with transaction.atomic():
        deleted, _ = Holiday.objects.filter(pk=holiday.pk).delete()
        if deleted:
            record_append(
                event=RecordEvent.OTHER,
                actor=actor,
                now=now,
                details=_details(holiday, "holiday_removed"),
            )
    holidays_cache_clear()
    return bool(deleted)
