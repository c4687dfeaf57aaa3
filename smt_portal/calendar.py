"""The business calendar: the five-weekday affirmation window and agreement terms.

Every rule here is stated in local time in America/Chicago (glossary: "Five
weekdays", "Terms"), whatever zone the caller's datetime is in. All functions are
pure: they take aware datetimes and return aware datetimes in ``CENTRAL``; a
naive datetime raises ``ValueError`` because guessing its zone is exactly the bug
this module exists to prevent.
"""

import calendar
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings

CENTRAL = ZoneInfo("America/Chicago")

AFFIRMATION_WEEKDAYS = 5

# Monday=0 … Friday=4, as returned by date.weekday().
_LAST_WEEKDAY = 4

_END_OF_DAY = time.max  # 23:59:59.999999

_MONTHS = {
    "en": (
        "January", "February", "March", "April", "May", "June",
        "July", "August", "September", "October", "November", "December",
    ),
    "es": (
        "enero", "febrero", "marzo", "abril", "mayo", "junio",
        "julio", "agosto", "septiembre", "octubre", "noviembre", "diciembre",
    ),
}  # fmt: skip

_DAYS = {
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
    "es": ("lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo"),
}

_ZONE_NAMES = {
    # (standard, daylight)
    "en": ("Central Standard Time", "Central Daylight Time"),
    "es": ("hora estándar del centro", "hora de verano del centro"),
}

_MERIDIEM = {
    "en": ("a.m.", "p.m."),
    # The RAE/ASALE spelling, with a space: "p. m.".
    "es": ("a. m.", "p. m."),
}


def _require_aware(value: datetime, *, name: str) -> None:
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime, got naive {value!r}")


def _is_business_day(day: date, holidays: frozenset[date]) -> bool:
    return day.weekday() <= _LAST_WEEKDAY and day not in holidays


def _end_of_local_day(day: date) -> datetime:
    # 23:59:59.999999 is never inside a DST gap or overlap in America/Chicago
    # (transitions happen at 02:00), so attaching the zone directly is exact.
    return datetime.combine(day, _END_OF_DAY, tzinfo=CENTRAL)


# Further holiday calendars (the one staff edit in the admin is registered by
# the affirmations app): callables returning dates, asked on every call of
# ``configured_holidays``. Core keeps no app import; apps register here.
_holiday_sources: list[Callable[[], Iterable[date]]] = []


def holiday_source_register(source: Callable[[], Iterable[date]]) -> None:
    """Add ``source`` to the calendars ``configured_holidays`` joins (once per source)."""
    if source not in _holiday_sources:
        _holiday_sources.append(source)


def configured_holidays() -> frozenset[date]:
    """The holidays the five-weekday rule skips: the base calendar from
    ``settings.AFFIRMATION_HOLIDAYS`` (ISO dates) joined with every registered
    source (``holiday_source_register``), read at the time of the call so a
    holiday staff add counts for every deadline computed after it.

    No calendar at all means holidays count as weekdays, as the glossary
    requires. A malformed entry raises ``ValueError`` rather than being
    skipped, so a typo cannot silently shorten a customer's window.
    """
    holidays = set(_settings_holidays())
    for source in _holiday_sources:
        holidays.update(source())
    return frozenset(holidays)


def _settings_holidays() -> frozenset[date]:
    raw = getattr(settings, "AFFIRMATION_HOLIDAYS", ())
    holidays = set()
    for entry in raw:
        # datetime is a subclass of date; a datetime here is a configuration
        # mistake (which zone's day?), so only plain dates and strings pass.
        if isinstance(entry, date) and not isinstance(entry, datetime):
            holidays.add(entry)
        elif isinstance(entry, str):
            holidays.add(date.fromisoformat(entry.strip()))
        else:
            raise ValueError(f"AFFIRMATION_HOLIDAYS entries must be ISO dates, got {entry!r}")
    return frozenset(holidays)


def affirmation_deadline(sent_at: datetime, *, holidays: frozenset[date] = frozenset()) -> datetime:
    """When a link sent at ``sent_at`` stops being valid.

    The link is valid through the end (23:59:59.999999 Central) of the fifth
    weekday after the *local* day on which it was sent. Dates in ``holidays``
    are not counted; pass ``configured_holidays()`` to honour the configured
    calendar (kept as an argument so this function stays pure and the value
    used can be stored with the link).
    """
    _require_aware(sent_at, name="sent_at")
    day = sent_at.astimezone(CENTRAL).date()
    counted = 0
    while counted < AFFIRMATION_WEEKDAYS:
        day += timedelta(days=1)
        if _is_business_day(day, holidays):
            counted += 1
    return _end_of_local_day(day)


def _normalise_language(language: str) -> str:
    # Accept browser-style tags ("es-MX", "en_US"): only the base language
    # changes the wording.
    base = language.replace("_", "-").split("-", 1)[0].lower()
    if base not in _MONTHS:
        raise ValueError(f"unsupported language {language!r}; expected one of {sorted(_MONTHS)}")
    return base


def _clock_in_words(moment: datetime, language: str) -> str:
    am, pm = _MERIDIEM[language]
    hour12 = moment.hour % 12 or 12
    return f"{hour12}:{moment.minute:02d} {pm if moment.hour >= 12 else am}"


def deadline_in_words(deadline: datetime, language: str = "en") -> str:
    """The deadline as customers read it, in Central time, in English or Spanish.

    English: "11:59 p.m. Central Standard Time on Monday, November 30, 2026".
    Spanish: "11:59 p. m., hora estándar del centro, el lunes 30 de noviembre de 2026".
    Standard vs daylight time follows the zone's rule on that date. Names are
    spelt out here rather than taken from system locales, which differ by host.
    """
    _require_aware(deadline, name="deadline")
    lang = _normalise_language(language)
    local = deadline.astimezone(CENTRAL)
    standard, daylight = _ZONE_NAMES[lang]
    zone = daylight if local.dst() else standard
    clock = _clock_in_words(local, lang)
    weekday = _DAYS[lang][local.weekday()]
    month = _MONTHS[lang][local.month - 1]
    if lang == "es":
        return f"{clock}, {zone}, el {weekday} {local.day} de {month} de {local.year}"
    return f"{clock} {zone} on {weekday}, {month} {local.day}, {local.year}"


def term_end(start: datetime, months: int) -> datetime:
    """The same Central wall time ``months`` months after ``start``.

    The day is clamped to the target month's last day (Jan 31 + 1 month is
    Feb 28, or Feb 29 in a leap year). If that wall time falls on a DST change,
    zoneinfo's ``fold=0`` semantics decide and the result is normalised through
    UTC: a time inside the spring-forward gap (02:30) becomes the real instant
    an hour later on the clock (03:30 CDT); an ambiguous fall-back time (01:30)
    means its first occurrence (CDT).
    """
    _require_aware(start, name="start")
    if isinstance(months, bool) or not isinstance(months, int):
        raise TypeError(f"months must be an int, got {type(months).__name__}")
    if months < 1:
        raise ValueError(f"months must be at least 1, got {months}")
    local = start.astimezone(CENTRAL)
    year, month_index = divmod(local.month - 1 + months, 12)
    year += local.year
    month = month_index + 1
    day = min(local.day, calendar.monthrange(year, month)[1])
    wall = local.replace(year=year, month=month, day=day, fold=0)
    return wall.astimezone(UTC).astimezone(CENTRAL)


def renewal_term_end(current_term_end: datetime, original_term_months: int) -> datetime:
    """A renewal adds exactly the original term, starting when the current term ends."""
    return term_end(current_term_end, original_term_months)


# The history window (glossary, "Data window"): staff set it, within these bounds.
HISTORY_MONTHS_DEFAULT = 12
HISTORY_MONTHS_MAX = 24


def history_window_start(affirmed_at: datetime, months: int) -> date:
    """The first local day of data a customer shares: the same calendar day
    ``months`` months before the affirmation's Central date, clamped to that
    month's last day (affirmed 31 March 2026, 1 month → 28 February 2026)."""
    _require_aware(affirmed_at, name="affirmed_at")
    if isinstance(months, bool) or not isinstance(months, int):
        raise TypeError(f"months must be an int, got {type(months).__name__}")
    if not 1 <= months <= HISTORY_MONTHS_MAX:
        raise ValueError(f"months must be 1 to {HISTORY_MONTHS_MAX}, got {months}")
    local = affirmed_at.astimezone(CENTRAL).date()
    year, month_index = divmod(local.month - 1 - months, 12)
    year += local.year
    month = month_index + 1
    return date(year, month, min(local.day, calendar.monthrange(year, month)[1]))


def date_in_words(day: date, language: str = "en") -> str:
    """A day as customers read it: "1 December 2025", "1 de diciembre de 2025"."""
    lang = _normalise_language(language)
    month = _MONTHS[lang][day.month - 1]
    if lang == "es":
        return f"{day.day} de {month} de {day.year}"
    return f"{day.day} {month} {day.year}"
