"""One settings module, read from the environment.

With nothing set the portal runs on SQLite under ``var/`` with no Redis: a
local-memory cache and a file-system Celery broker. Production differs only by
environment (see ``docker-compose.yml``). A value that cannot be parsed stops
start-up with a message that names the variable.
"""

from pathlib import Path

import environ
from csp.constants import NONCE, NONE, SELF, UNSAFE_INLINE
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()


def _read(name, parse, default):
    """Parse one variable, naming it when its value is bad."""
    try:
        return parse(name, default=default)
    except (ImproperlyConfigured, ValueError, KeyError, TypeError) as exc:
        raise ImproperlyConfigured(f"Environment variable {name} is invalid: {exc}") from exc


def env_bool(name, default):
    raw = env.str(name, default="")
    if raw == "":
        return default
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(
        f"Environment variable {name} is invalid: {raw!r} is not a boolean (use true or false)"
    )


def env_int(name, default, minimum=0):
    raw = env.str(name, default="")
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(
            f"Environment variable {name} is invalid: {raw!r} is not a whole number"
        ) from None
    if value < minimum:
        raise ImproperlyConfigured(f"Environment variable {name} must be at least {minimum}")
    return value


def env_url(name, default):
    raw = env.str(name, default=default).strip()
    if "://" not in raw:
        raise ImproperlyConfigured(f"Environment variable {name} is invalid: {raw!r} is not a URL")
    return raw.rstrip("/")


DEBUG = env_bool("DEBUG", True)
TESTING = env_bool("SMT_TESTING", False)

# Development only: production (DEBUG off) refuses to start without SECRET_KEY.
_DEV_SECRET_KEY = "insecure-development-key-do-not-use-in-production-0123456789abcdef"  # noqa: S105
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("Environment variable SECRET_KEY must be set when DEBUG is off")
    SECRET_KEY = _DEV_SECRET_KEY

ALLOWED_HOSTS = _read(
    "ALLOWED_HOSTS", env.list, ["127.0.0.1", "localhost", "[::1]", "testserver"] if DEBUG else []
)
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("Environment variable ALLOWED_HOSTS must be set when DEBUG is off")

SITE_URL = env_url("SITE_URL", "http://127.0.0.1:8000")

INSTALLED_APPS = [
    # The Django admin, with staff signing in through allauth (smt_portal/admin_site.py).
    "smt_portal.admin_apps.PortalAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "altcha_django",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "csp",
    "smt_portal",
    "premises",
    "outbox",
    "csp_registry",
    "webhooks",
    "affirmations",
    "data_access",
    "monitoring",
    "accounts",
    "csp_portal",
]

MIDDLEWARE = [
    # Outermost, so every response carries the policy, even the JSON errors that
    # ApiConventionsMiddleware writes in place of another answer.
    "csp.middleware.CSPMiddleware",
    # First of the rest, so every /api/ response (even another middleware's) is logged and JSON.
    "csp_registry.api.middleware.ApiConventionsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "affirmations.language.QueryLanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "smt_portal.urls"
WSGI_APPLICATION = "smt_portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------
DATABASES = {
    "default": _read("DATABASE_URL", env.db_url, f"sqlite:///{VAR_DIR / 'portal.sqlite3'}")
}
if DATABASES["default"]["ENGINE"] not in (
    "django.db.backends.sqlite3",
    "django.db.backends.postgresql",
):
    raise ImproperlyConfigured(
        "Environment variable DATABASE_URL is invalid: use postgres://… or sqlite:///…"
    )
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL and immediate transactions let the web process and the Celery worker
    # write to one SQLite file without "database is locked" errors.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        }
    )
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env_int("CONN_MAX_AGE", 60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# The API's hottest lookups are prepared statements on PostgreSQL
# (smt_portal.prepared_sql); 0 behind a pooler that cannot keep them.
DATABASE_PREPARED_STATEMENTS = env_bool("DATABASE_PREPARED_STATEMENTS", True)
if DATABASE_PREPARED_STATEMENTS and DATABASES["default"]["ENGINE"].endswith("postgresql"):
    # psycopg prepares only when asked (never after N runs, its default): a
    # threshold of None, Django's, would refuse even that.
    DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = 2**31 - 1
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache, rate limits, Celery broker -----------------------------------
REDIS_URL = env.str("REDIS_URL", default="").strip()
if REDIS_URL and not REDIS_URL.startswith(("redis://", "rediss://", "unix://")):
    raise ImproperlyConfigured(
        f"Environment variable REDIS_URL is invalid: {REDIS_URL!r} is not a redis:// URL"
    )

if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
    }
    CELERY_BROKER_URL = REDIS_URL
    # kombu's Redis transport, with a lost connection during a restore reported
    # as the connection error it is (see smt_portal/broker.py).
    CELERY_BROKER_TRANSPORT = "smt_portal.broker:Transport"
    # A Redis that accepts connections and never answers must not hang a web
    # request that publishes a task: give up, the outbox sweep sends later.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": 3600,
        "socket_timeout": 5,
        "socket_connect_timeout": 2,
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    # A broker that needs no server: messages are files under var/celery/.
    _BROKER_DIR = VAR_DIR / "celery" / "broker"
    # The worker lists this folder on start; a fresh clone has no var/ yet.
    _BROKER_DIR.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_BROKER_DIR),
        "data_folder_out": str(_BROKER_DIR),
        "processed_folder": str(VAR_DIR / "celery" / "processed"),
        "control_folder": str(VAR_DIR / "celery" / "control"),
        "store_processed": False,
    }

CELERY_TIMEZONE = "America/Chicago"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A worker keeps reconnecting for as long as the broker is away, instead of
# exiting after 100 attempts (~46 minutes); bin/supervise restarts it anyway.
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
# Publishing must not hang a web request when the broker is down: the outbox
# row is already committed and the beat sweep sends it later.
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_TASK_PUBLISH_RETRY = False
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celery" / "beat-schedule")
# The record's signed checkpoints (issue 16): the Ed25519 private key (base64
# of the 32 raw bytes, or PEM) is never in the database; production (DEBUG
# off) refuses to seal without it, development and tests derive one from
# SECRET_KEY. The public key (default: derived from the private one) is what
# verify_records needs. Each checkpoint is appended to the file (put it where
# the database login cannot rewrite it) and emailed to COMMITTEE_EMAIL.
RECORD_CHECKPOINT_SIGNING_KEY = env.str("RECORD_CHECKPOINT_SIGNING_KEY", default="")
RECORD_CHECKPOINT_PUBLIC_KEY = env.str("RECORD_CHECKPOINT_PUBLIC_KEY", default="")
RECORD_CHECKPOINT_DEV_KEY = DEBUG or TESTING
RECORD_CHECKPOINT_FILE = env.str(
    "RECORD_CHECKPOINT_FILE", default=str(VAR_DIR / "record-checkpoints.jsonl")
)
RECORD_CHECKPOINT_EVERY = env_int("RECORD_CHECKPOINT_EVERY", 3600, minimum=60)

# Periodic jobs (R24), by task name and interval in seconds. Beat runs them on
# this schedule; ``manage.py run_jobs`` runs each once, now. Every sweep selects
# by due-date columns, so a missed run simply catches up on the next.
PERIODIC_JOBS = {
    "outbox.tasks.relay_pending_emails": 60,
    "webhooks.tasks.relay_webhook_deliveries": 60,
    "affirmations.tasks.time_out_unanswered_requests": 300,
    "affirmations.tasks.end_finished_terms": 300,
    "affirmations.tasks.time_out_unanswered_renewals": 300,
    "affirmations.tasks.remind_sharing_customers": 3600,
    "affirmations.tasks.answer_sandbox_requests": 60,
    "affirmations.tasks.seal_record_checkpoint": RECORD_CHECKPOINT_EVERY,
    "csp_registry.tasks.purge_expired_idempotency_keys": 3600,
    "monitoring.tasks.run_detectors": 900,
    "data_access.tasks.announce_left_behind_data": 600,
    # Each premise's stored 12-month usage peak, once the month turns (premise authentication).
    "premises.tasks.refresh_usage_peaks": 3600,
    # The worker's heartbeat: its age on /healthz is how long no worker consumed.
    "smt_portal.tasks.record_worker_heartbeat": 60,
}
# /healthz: emails still unsent this long after they were due, and a worker
# heartbeat older than this, are reported as failing checks (never a 503).
HEALTHZ_OUTBOX_OVERDUE_MINUTES = env_int("HEALTHZ_OUTBOX_OVERDUE_MINUTES", 10, minimum=1)
HEALTHZ_WORKER_MAX_AGE_MINUTES = env_int("HEALTHZ_WORKER_MAX_AGE_MINUTES", 5, minimum=2)
CELERY_BEAT_SCHEDULE = {
    name: {"task": name, "schedule": float(seconds)} for name, seconds in PERIODIC_JOBS.items()
}

# --- Email ----------------------------------------------------------------
_email = _read("EMAIL_URL", env.email_url, f"filemail:///{VAR_DIR / 'mail'}")
EMAIL_BACKEND = _email["EMAIL_BACKEND"]
for _key, _value in _email.items():
    if _key.startswith("EMAIL_") and _key != "EMAIL_BACKEND":
        globals()[_key] = _value
# Emails without a deadline of their own (receipts, notices) are retried this
# long before they fail visibly; link emails retry until their link's deadline.
OUTBOX_DELIVERY_WINDOW_HOURS = env_int("OUTBOX_DELIVERY_WINDOW_HOURS", 72, minimum=1)
# Each socket operation of an SMTP attempt gives up after this many seconds.
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 30, minimum=1)
DEFAULT_FROM_EMAIL = env.str(
    "DEFAULT_FROM_EMAIL", default="Smart Meter Consent <no-reply@smt-portal.example>"
)
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Webhooks -------------------------------------------------------------
# Deliveries are retried this long after their event, then fail visibly.
WEBHOOKS_DELIVERY_WINDOW_HOURS = env_int("WEBHOOKS_DELIVERY_WINDOW_HOURS", 72, minimum=1)
# One attempt: connecting may take this long, the whole POST and answer this long.
WEBHOOKS_CONNECT_TIMEOUT_SECONDS = env_int("WEBHOOKS_CONNECT_TIMEOUT_SECONDS", 5, minimum=1)
WEBHOOKS_TIMEOUT_SECONDS = env_int("WEBHOOKS_TIMEOUT_SECONDS", 10, minimum=1)
# An endpoint every attempt to which failed for this long is disabled, and the CSP told.
WEBHOOKS_DISABLE_AFTER_HOURS = env_int("WEBHOOKS_DISABLE_AFTER_HOURS", 72, minimum=1)
# Certificate authorities to trust for endpoints (a file); empty: the system's.
WEBHOOKS_CA_FILE = env.str("WEBHOOKS_CA_FILE", default="") or None
# Development and tests only: loopback receivers (and http:// to them) are allowed.
WEBHOOKS_ALLOW_INSECURE_LOCAL = DEBUG or TESTING
# seed_reference_data creates the sandbox premises (premises/sandbox.py); tests,
# which count premises, turn it on where they need them.
SANDBOX_SEED = not TESTING

# --- Internationalisation -------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("es", "Español")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "America/Chicago"
USE_I18N = True
USE_TZ = True

# --- Static files ---------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Development and tests serve static files straight from the apps' folders.
WHITENOISE_AUTOREFRESH = DEBUG or TESTING
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG or TESTING
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# --- Auth and security ----------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    if env_bool("BEHIND_TLS_PROXY", False):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Number of reverse proxies in front of the portal that append to
# X-Forwarded-For. Zero means the client address is REMOTE_ADDR, and no header
# a client can set is believed.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)

# --- REST API -------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "DEFAULT_SCHEMA_CLASS": "csp_registry.api.schema.CspAutoSchema",
    "EXCEPTION_HANDLER": "csp_registry.api.errors.api_exception_handler",
    "UNAUTHENTICATED_USER": None,
    # OPTIONS describes nothing the OpenAPI document does not: answer 405.
    "DEFAULT_METADATA_CLASS": None,
}
# The API docs' quick start (a test runs exactly these five calls). The table is
# premises/sandbox.py's SANDBOX_PREMISES (a test keeps the two the same).
SANDBOX_QUICK_START = """

## Quick start: the sandbox, in five calls

Create a **sandbox key** (`smt_test_…`) at `/csp/keys/` (tick "Sandbox key"). It acts
only on the sandbox premises below, never on live data, and no email leaves the
sandbox: the customer's answer is scripted by the address you give, at
`@sandbox.smt-portal.example`: `opt-in@` opts in after a few seconds, `opt-out@` opts
out, `spam@` reports spam, `no-answer@` times out at once. Sandbox agreements have
the same statuses, webhooks, events and data endpoints as live ones; a live key never
sees them. Send `Authorization: Bearer smt_test_…` with every call.

1. `POST /api/v1/premise-authentications/` with `{"esi_id": "10443720099000001",
   "meter_number": "SBX0000001", "rep_certificate_number": "10004"}`
   answers `{"authenticated": true, …}`.
2. `POST /api/v1/agreements/` with `{"premises": [<the three facts above>],
   "customer_email": "opt-in@sandbox.smt-portal.example", "term_months": 12}`
   answers 201, `pending_affirmation`, with its `id`.
3. `GET /api/v1/agreements/{id}/` a few seconds later answers `active`.
4. `GET /api/v1/events/` lists its `agreement.affirmed` event (as a webhook would carry it).
5. `GET /api/v1/agreements/{id}/interval-data/?esi_id=10443720099000001&start={day}&end={day}`
   answers the 15-minute readings of `{day}`, any of the last 120 days.

Sandbox premises (ESI ID, meter number, REP certificate number, class):

| ESI ID | Meter | REP | Class |
|---|---|---|---|
| 10443720099000001 | SBX0000001 | 10004 | residential |
| 10443720099000002 | SBX0000002 | 10004 | residential |
| 10443720099000003 | SBX0000003 | 10004 | residential |
| 10443720099000004 | SBX0000004 | 10004 | residential |
| 10443720099000005 | SBX0000005 | 10004 | residential |
| 10443720099000006 | SBX0000006 | 10007 | residential |
| 10443720099000007 | SBX0000007 | 10007 | residential |
| 10443720099000008 | SBX0000008 | 10007 | residential |
| 10443720099000009 | SBX0000009 | 10004 | commercial |
| 10443720099000010 | SBX0000010 | 10004 | commercial |
"""

from csp_registry.api.guide import API_GUIDE  # noqa: E402 (plain text, no models)

SPECTACULAR_SETTINGS = {
    "TITLE": "Smart Meter Consent Portal — CSP API",
    # Opens with the live quick start, the identifiers, errors, idempotency and
    # rate limits (csp_registry/api/guide.py, plain text), then the sandbox's.
    "DESCRIPTION": (
        "API for Competitive Service Providers: authenticate premises, request a "
        "customer's affirmation, and read the meter data an active agreement allows."
        + API_GUIDE
        + SANDBOX_QUICK_START
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "PREPROCESSING_HOOKS": ["csp_registry.api.schema.only_api_paths"],
    "SERVE_AUTHENTICATION": [],
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    # Swagger UI served by the portal itself (drf-spectacular-sidecar), no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # One name for the event types, wherever the webhooks and the feed list them.
    "ENUM_NAME_OVERRIDES": {"EventTypeEnum": "csp_registry.models.EventType"},
}

# --- API conventions ------------------------------------------------------
# Rate limits (django-ratelimit on the default cache, Redis in production):
# every request counts against "default" and against its view's own scope.
# Rates are "<count>/<s|m|h|d>".
API_RATE_LIMITS = {
    "default": {
        "ip": env.str("API_RATE_LIMIT_PER_IP", default="1200/m"),
        "csp": env.str("API_RATE_LIMIT_PER_CSP", default="600/m"),
    },
    # The premise-check budget: guessing ESI IDs is the attack (R18). It counts
    # premises checked, by premise authentication and agreement creation alike
    # (csp_registry/api/ratelimits.py); per hour, so that one agreement of 200
    # premises fits, at the same average as 120/m and 60/m.
    "premise_authentication": {
        "ip": env.str("API_PREMISE_AUTH_RATE_LIMIT_PER_IP", default="7200/h"),
        "csp": env.str("API_PREMISE_AUTH_RATE_LIMIT_PER_CSP", default="3600/h"),
    },
}
CSP_REGISTER_RATE_LIMIT = env.str("CSP_REGISTER_RATE_LIMIT", default="5/h")
# /report/: anyone may report a CSP; per client IP.
REPORT_RATE_LIMIT = env.str("REPORT_RATE_LIMIT", default="10/h")
# Customers adding a premise to their account (accounts/services.py): premises
# checked, per account and per client IP, on the same counters as the API's budget.
CUSTOMER_PREMISE_CHECKS_PER_ACCOUNT = env.str("CUSTOMER_PREMISE_CHECKS_PER_ACCOUNT", default="10/h")
CUSTOMER_PREMISE_CHECKS_PER_IP = env.str("CUSTOMER_PREMISE_CHECKS_PER_IP", default="30/h")
# Where a suspended CSP is told to respond (R21).
COMMITTEE_EMAIL = env.str("COMMITTEE_EMAIL", default="committee@smt-portal.example")


def _check_rate(name, rate):
    count, _, period = rate.partition("/")
    if not (count.isdigit() and period.lstrip("0123456789") in {"s", "m", "h", "d"}):
        raise ImproperlyConfigured(f"{name} is invalid: {rate!r} is not like 60/m")


for _scope, _rates in API_RATE_LIMITS.items():
    for _per, _rate in _rates.items():
        _check_rate(f"API rate limit {_scope}/{_per}", _rate)
_check_rate("CSP_REGISTER_RATE_LIMIT", CSP_REGISTER_RATE_LIMIT)
_check_rate("REPORT_RATE_LIMIT", REPORT_RATE_LIMIT)
_check_rate("CUSTOMER_PREMISE_CHECKS_PER_ACCOUNT", CUSTOMER_PREMISE_CHECKS_PER_ACCOUNT)
_check_rate("CUSTOMER_PREMISE_CHECKS_PER_IP", CUSTOMER_PREMISE_CHECKS_PER_IP)
RATELIMIT_USE_CACHE = "default"
# Each process holds the API keys it has read, checked on every request against
# a generation on Redis (csp_registry/key_cache.py); past this age a held key is
# read again regardless. 0: read every request's key from the database.
API_KEY_CACHE_SECONDS = env_int("API_KEY_CACHE_SECONDS", 30, minimum=0)
# Idempotency-Key rows are kept at least this long (purged hourly after).
IDEMPOTENCY_KEY_TTL_HOURS = env_int("IDEMPOTENCY_KEY_TTL_HOURS", 24, minimum=24)
# A bare endpoint at /csp/bench-floor/ for bench/bench_api.py; never in production.
BENCH_FLOOR_ENDPOINT = env_bool("BENCH_FLOOR_ENDPOINT", False)

# --- Bot protection (R10) --------------------------------------------------
# ALTCHA proof of work, verified here with no outside service. There is no
# switch to turn it off: ALTCHA_TEST_MODE is never read from the environment.
ALTCHA_HMAC_SECRET = env.str("ALTCHA_HMAC_SECRET", default="") or f"altcha:{SECRET_KEY}"
ALTCHA_TEST_MODE = False
ALTCHA_CACHE_ALIAS = "default"  # replay store: Redis in production
ALTCHA_REPLAY_PROTECTION = True
ALTCHA_WIDGET_JS_SOURCE = "vendored"
# The widget's own words follow the page's language (vendored translations).
ALTCHA_WIDGET_I18N = True
# Without Redis the portal is one web process (the laptop default), where a
# per-process replay store is complete; with REDIS_URL the check applies.
SILENCED_SYSTEM_CHECKS = [] if REDIS_URL else ["altcha.W001"]
ALTCHA_CHALLENGE = {
    # Work a phone does in about a second; tests lower it (not below 1).
    "cost": env_int("ALTCHA_COST", 5000, minimum=1 if DEBUG or TESTING else 1000),
    "expires_seconds": env_int("ALTCHA_EXPIRES_SECONDS", 600, minimum=60),
}

# --- Sign-in: staff and customers (django-allauth) -----------------------
# One library, one sign-in page (/account/login/, smt_portal/urls.py) for every
# sign-in: staff by username, password and TOTP (the admin's own login page only
# routes there, smt_portal/admin_site.py); customers by email address with a
# password or an emailed code, a second factor optional. Customers prove their
# address before their first sign-in; staff have no address to prove (the
# adapter's login stages, smt_portal/allauth_adapter.py) and are kept out of the
# email-only ways in (code sign-in, password reset).
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
LOGIN_URL = "account_login"
# After sign-in the adapter sends staff to the admin, customers to /account/.
LOGIN_REDIRECT_URL = "admin:index"
LOGOUT_REDIRECT_URL = "account_login"
ACCOUNT_ADAPTER = "smt_portal.allauth_adapter.PortalAccountAdapter"
ACCOUNT_FORMS = {
    "login": "accounts.auth_views.PortalLoginForm",
    "request_login_code": "accounts.auth_views.CustomerLoginCodeForm",
    "reset_password": "accounts.auth_views.CustomerPasswordResetForm",
}
ACCOUNT_LOGIN_METHODS = {"username", "email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_EMAIL_CONFIRMATION_HMAC = True  # the key is signed, never stored
ACCOUNT_EMAIL_CONFIRMATION_EXPIRE_DAYS = 3
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
# A new address replaces the old one only once it is proven.
ACCOUNT_CHANGE_EMAIL = True
ACCOUNT_LOGIN_BY_CODE_ENABLED = True
ACCOUNT_LOGIN_BY_CODE_TIMEOUT = 600
ACCOUNT_LOGIN_BY_CODE_MAX_ATTEMPTS = 3
# Sign-up, password reset and code sign-in answer alike whether or not the
# address has an account (the owner of the address is told by email).
ACCOUNT_PREVENT_ENUMERATION = True
ACCOUNT_EMAIL_UNKNOWN_ACCOUNTS = True
# Failed sign-ins (a wrong password or a wrong code) per client IP and per
# account, counted on the default cache (Redis in production); once either is
# spent, even the right password is refused until the window passes.
STAFF_LOGIN_FAILURES_PER_IP = env.str("STAFF_LOGIN_FAILURES_PER_IP", default="20/h")
STAFF_LOGIN_FAILURES_PER_ACCOUNT = env.str("STAFF_LOGIN_FAILURES_PER_ACCOUNT", default="5/15m")
_check_rate("STAFF_LOGIN_FAILURES_PER_IP", STAFF_LOGIN_FAILURES_PER_IP)
_check_rate("STAFF_LOGIN_FAILURES_PER_ACCOUNT", STAFF_LOGIN_FAILURES_PER_ACCOUNT)
# Per client IP (smt_portal.client_ip, the adapter) and per address ("key").
# Refused pages answer 429 (urls.handler429), refused forms say so.
ACCOUNT_RATE_LIMITS = {
    "login": "30/m/ip",
    "login_failed": f"{STAFF_LOGIN_FAILURES_PER_IP}/ip,{STAFF_LOGIN_FAILURES_PER_ACCOUNT}/key",
    "signup": "10/h/ip",
    # Sending a verification email again: once per 3 minutes per address.
    "confirm_email": "1/3m/key",
    "reset_password": "20/h/ip,3/h/key",
    "reset_password_from_key": "20/m/ip",
    "request_login_code": "20/h/ip,3/15m/key",
    "change_password": "5/m/user",
    "manage_email": "10/m/user",
    "reauthenticate": "10/m/user",
}
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "Smart Meter Consent Portal"
# The admin refuses staff without an activated authenticator app and sends
# them to set one up. Off by default only in development (the quick start's
# printed login then works with its password alone).
STAFF_MFA_REQUIRED = env_bool("STAFF_MFA_REQUIRED", not DEBUG)

# --- Content-Security-Policy (django-csp) ---------------------------------
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        # No inline script runs without this response's nonce; the portal's
        # pages have none, Swagger UI's start-up script carries it
        # (templates/drf_spectacular/swagger_ui.html).
        "script-src": [SELF, NONCE],
        # Inline styles are allowed: the challenge widget injects its own
        # <style>, the admin's change lists and Swagger UI have <style> blocks,
        # the dashboard uses style attributes. Without script, an injected style
        # loads images and fonts only from this origin or data: (img-src below,
        # default-src for fonts), so it can deface a page but send nothing away.
        "style-src": [SELF, UNSAFE_INLINE],
        # data: for the TOTP QR code and Swagger UI's icons.
        "img-src": [SELF, "data:"],
        # The challenge widget solves its proof of work in a Web Worker built
        # from a blob: URL.
        "worker-src": [SELF, "blob:"],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}

# --- Logging --------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
