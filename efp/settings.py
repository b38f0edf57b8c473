"""Settings for EFP Allocations, read from EFP_* environment variables."""

from __future__ import annotations

import datetime
import os
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import dj_database_url
from csp.constants import NONE, SELF

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str) -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return default if value is None or value.strip() == "" else int(value)


def env_optional_int(name: str) -> int | None:
    value = os.environ.get(name)
    return None if value is None or value.strip() == "" else int(value)


RATE_PERIODS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}


def parse_rate(name: str, value: str) -> tuple[int, int]:
    """`N/period` (second, minute, hour or day; DRF's spelling) → (requests, seconds); refuses anything else
    at startup, naming the variable."""
    count, _, period = value.strip().partition("/")
    seconds = RATE_PERIODS.get(period.strip().lower())
    if not count.strip().isdigit() or int(count) < 1 or seconds is None:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(f"{name}={value!r}: write N/second, N/minute, N/hour or N/day (N >= 1).")
    return int(count), seconds


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if not value:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


DEBUG = env_bool("EFP_DEBUG", False)
DEVELOPMENT_SECRET_KEY = "efp-insecure-development-key-change-me-in-production"
SECRET_KEY = env_str("EFP_SECRET_KEY", DEVELOPMENT_SECRET_KEY)
ALLOWED_HOSTS = env_list("EFP_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver", "[::1]"])
# Billing months are computed in this zone; the API always renders datetimes in UTC.
TIME_ZONE = env_str("EFP_TIME_ZONE", "UTC")
USE_TZ = True
USE_I18N = False
LANGUAGE_CODE = "en-gb"

DATABASES = {
    "default": dj_database_url.parse(
        env_str("EFP_DATABASE_URL", f"sqlite:///{BASE_DIR / 'efp.sqlite3'}"),
        conn_max_age=60,
        # A connection that died while idle (the database restarted) is replaced before a request uses it
        # (efp/outage.py), instead of failing that request.
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Concurrent requests against one SQLite file wait for the write lock instead of failing at once:
    # IMMEDIATE takes it when a transaction begins, so a transaction that read first never fails at
    # once ("database is locked", a 500) when it tries to write while another one holds the lock.
    options = DATABASES["default"].setdefault("OPTIONS", {})
    options["timeout"] = 20
    options["transaction_mode"] = "IMMEDIATE"
elif not env_bool("EFP_DATABASE_POOLED", False) and env_bool("EFP_DATABASE_PREPARED", True):
    # Server-side parameter binding: a query sent with the same text on a connection is prepared by
    # psycopg after 5 runs, so PostgreSQL stops parsing and planning the same list queries on every
    # request (planning the joins of a list costs more than running it).
    # Django turns psycopg's preparing off (for connection poolers); we connect to PostgreSQL directly.
    DATABASES["default"].setdefault("OPTIONS", {}).update(server_side_binding=True, prepare_threshold=5)
if (
    DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3"
    and not env_bool("EFP_DATABASE_JIT", False)
    and not env_bool("EFP_DATABASE_POOLED", False)
):
    # PostgreSQL compiles a query whose estimated cost passes jit_above_cost to machine code first. The
    # correlated subqueries of the dashboard and the coverage matrix pass it from about 10,000 resources:
    # compiling took 2.4 s for a query that runs in 90 ms (issue 18). Our queries are short, so never.
    # PgBouncer refuses the `options` startup parameter: behind it, `ALTER DATABASE ... SET jit = off`
    # (docs/deploy.md).
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = "-c jit=off"
if env_bool("EFP_DATABASE_POOLED", False):
    # Behind a transaction-pooling PgBouncer (docs/deploy.md) a server connection is ours for one transaction
    # only: no prepared statements (above) and no server-side cursors (the CSV exports' `.iterator()`).
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_tasks",
    "django_tasks_db",
    "efp.accounts",
    "efp.events",
    "efp.idempotency",
    "efp.structure",
    "efp.marketplace",
    "efp.notifications",
    "efp.hooks",
    "efp.invoices",
    "efp.web",
    "axes",  # login throttling: failures per (username, address), shared by all processes via the database
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "efp.rest.addresses.CurrentAddressMiddleware",  # the client's address for the access audit
    "efp.request_size.RequestSizeLimitMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",  # last: answers a locked-out login attempt
]

if env_bool("EFP_COUNT_QUERIES", False):
    # `make bench` counts the SQL statements of each request (X-Query-Count); never on in production.
    MIDDLEWARE.insert(0, "efp.rest.query_count.QueryCountMiddleware")

# Background work: Django's tasks interface with its database backend, so a task row is inserted in the
# transaction that causes it (no enqueue on commit). `efp worker` runs the tasks and the periodic jobs.
TASKS = {
    "default": {
        "BACKEND": "django_tasks_db.DatabaseBackend",
        "QUEUES": ["default"],
    }
}
# A task still RUNNING after this many seconds, whose worker process has not been seen alive for as long,
# is returned to the queue by the `events.requeue_stale` job (its worker died with its machine). Our tasks
# are short: a web hook attempt times out after 10 s.
EFP_TASK_STALE_SECONDS = env_int("EFP_TASK_STALE_SECONDS", 300)
# Days after a resource's end date before the daily job terminates it (a Terminate order).
EFP_END_DATE_GRACE_DAYS = env_int("EFP_END_DATE_GRACE_DAYS", 14)

# E-mail (notifications): one URL says where mail goes (no e-mail URL package is installed; the parser
# is below). The sender is EFP_EMAIL_FROM; links in e-mails start with EFP_SITE_URL.
EMAIL_BACKENDS = {
    "console": "django.core.mail.backends.console.EmailBackend",
    "locmem": "django.core.mail.backends.locmem.EmailBackend",
    "file": "django.core.mail.backends.filebased.EmailBackend",
    "smtp": "django.core.mail.backends.smtp.EmailBackend",
}


def parse_email_url(url: str) -> dict[str, object]:
    """Django's e-mail settings from `console://`, `locmem://`, `file:///dir` or
    `smtp://user:password@host:port` (`?tls=true` for STARTTLS, `?ssl=true` for TLS from the start)."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in EMAIL_BACKENDS:
        raise ValueError(f"EFP_EMAIL_URL: unknown scheme {scheme!r} (console, locmem, file or smtp)")
    config: dict[str, object] = {"EMAIL_BACKEND": EMAIL_BACKENDS[scheme]}
    if scheme == "file":
        if not parts.path:
            raise ValueError("EFP_EMAIL_URL: file:///directory needs a directory")
        config["EMAIL_FILE_PATH"] = unquote(parts.path)
    if scheme != "smtp":
        return config
    query = {key.lower(): values[-1] for key, values in parse_qs(parts.query).items()}
    flags = {key: query.get(key, "").strip().lower() in {"1", "true", "yes", "on"} for key in ("tls", "ssl")}
    if flags["tls"] and flags["ssl"]:
        raise ValueError("EFP_EMAIL_URL: tls and ssl exclude each other")
    config.update(
        EMAIL_HOST=parts.hostname or "localhost",
        EMAIL_PORT=parts.port or (465 if flags["ssl"] else 587 if flags["tls"] else 25),
        EMAIL_HOST_USER=unquote(parts.username or ""),
        EMAIL_HOST_PASSWORD=unquote(parts.password or ""),
        EMAIL_USE_TLS=flags["tls"],
        EMAIL_USE_SSL=flags["ssl"],
    )
    return config


globals().update(parse_email_url(env_str("EFP_EMAIL_URL", "console://")))
DEFAULT_FROM_EMAIL = env_str("EFP_EMAIL_FROM", "EFP Allocations <noreply@localhost>")
EFP_SITE_URL = env_str("EFP_SITE_URL", "http://127.0.0.1:8000").rstrip("/")

# Web hooks (efp/hooks): destinations in private, loopback, link-local and other non-public ranges are
# refused unless this is set (tests and the demo post to 127.0.0.1). One attempt waits this many seconds.
WEBHOOK_ALLOW_PRIVATE = env_bool("EFP_WEBHOOK_ALLOW_PRIVATE", False)
WEBHOOK_TIMEOUT = 10

# Site agents' event queues (efp/marketplace/agent_messages.py): unset, agents poll; set, `register_queue`
# provisions a RabbitMQ user and queue per agent and order, resource and offering-user changes are pushed
# to them. The broker is amqp://user:password@host:port/; queues, users and messages go through its
# management API, at http://host:15672/ with the same credentials unless EFP_RABBITMQ_MANAGEMENT_URL says.
EFP_RABBITMQ_URL = env_str("EFP_RABBITMQ_URL", "").strip()
EFP_RABBITMQ_MANAGEMENT_URL = env_str("EFP_RABBITMQ_MANAGEMENT_URL", "").strip()

ROOT_URLCONF = "efp.urls"
WSGI_APPLICATION = "efp.wsgi.application"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "web:login"
LOGIN_REDIRECT_URL = "web:home"
LOGOUT_REDIRECT_URL = "web:login"
# Waldur keeps trailing slashes mandatory; a POST without one must not be silently redirected.
APPEND_SLASH = False

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    }
]

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

AUTH_PASSWORD_VALIDATORS: list[dict[str, str]] = []
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses a locked-out username/address pair
    # Usernames and passwords (Django's ModelBackend), unless EFP_PASSWORD_LOGIN=false.
    "efp.accounts.oidc.passwords.PasswordSwitch",
    # OpenID Connect's code flow (mozilla-django-oidc); answers nothing while EFP_OIDC_ISSUER is empty.
    "efp.accounts.oidc.backend.OidcBackend",
]

# --- OpenID Connect sign-in (efp/accounts/oidc/) ----------------------------------------------------

# Empty: no OpenID Connect at all, everything as before. Set: the login page offers "Sign in with
# <EFP_OIDC_LABEL>", the endpoints come from the issuer's /.well-known/openid-configuration (kept
# EFP_OIDC_DISCOVERY_SECONDS), and the API also takes that issuer's access tokens (Authorization: Bearer).
OIDC_ISSUER = env_str("EFP_OIDC_ISSUER", "").strip().rstrip("/")
OIDC_RP_CLIENT_ID = env_str("EFP_OIDC_CLIENT_ID", "")
OIDC_RP_CLIENT_SECRET = env_str("EFP_OIDC_CLIENT_SECRET", "")
OIDC_RP_SCOPES = env_str("EFP_OIDC_SCOPES", "openid email profile")
OIDC_RP_SIGN_ALGO = env_str("EFP_OIDC_SIGN_ALGO", "RS256")
OIDC_LABEL = env_str("EFP_OIDC_LABEL", "single sign-on")
# Which claim gives a new person's username, e-mail and name (the username claim must be one the
# issuer controls: a local user of that username who is not linked yet is linked at the first sign-in).
OIDC_CLAIMS = {
    "username": env_str("EFP_OIDC_USERNAME_CLAIM", "preferred_username"),
    "email": env_str("EFP_OIDC_EMAIL_CLAIM", "email"),
    "first_name": env_str("EFP_OIDC_FIRST_NAME_CLAIM", "given_name"),
    "last_name": env_str("EFP_OIDC_LAST_NAME_CLAIM", "family_name"),
    "name": env_str("EFP_OIDC_NAME_CLAIM", "name"),  # split into first and last when those are missing
}
OIDC_TIMEOUT = env_int("EFP_OIDC_TIMEOUT", 10)  # seconds for each request to the issuer
OIDC_DISCOVERY_SECONDS = env_int("EFP_OIDC_DISCOVERY_SECONDS", 3600)
# An accepted bearer token is remembered (by its hash) this long, at most until it expires.
OIDC_BEARER_CACHE_SECONDS = env_int("EFP_OIDC_BEARER_CACHE_SECONDS", 60)
OIDC_USE_PKCE = True
OIDC_AUTHENTICATION_CALLBACK_URL = "web:oidc-callback"
LOGIN_REDIRECT_URL_FAILURE = "web:login"
# false: no sign-in with a password anywhere (GUI, admin, /api-auth/password/); API tokens keep working.
PASSWORD_LOGIN = env_bool("EFP_PASSWORD_LOGIN", True)

# --- hardening (issue 8) ---------------------------------------------------------------------------

# Login throttling for the GUI login, the admin login and POST /api-auth/password/: after
# AXES_FAILURE_LIMIT failed attempts for one username from one address, that pair is refused until
# AXES_COOLOFF_TIME has passed (a correct password does not help meanwhile); a success resets the count.
# Locking the pair, not the username alone, keeps an attacker from locking a user out everywhere.
AXES_FAILURE_LIMIT = env_int("EFP_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = datetime.timedelta(seconds=env_int("EFP_LOGIN_COOLOFF", 15 * 60))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False  # the lockout ends when the message says it does
AXES_LOCKOUT_CALLABLE = "efp.accounts.lockout.locked_out"
AXES_VERBOSE = False

# API tokens: a user's `token_lifetime` (seconds) is taken from this when the user is created; empty means
# tokens never expire. Like Waldur, the lifetime slides: every authenticated request restarts it.
TOKEN_LIFETIME = env_optional_int("EFP_TOKEN_LIFETIME")

# Request bodies above this many bytes get 413 before any view reads them (efp/request_size.py).
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("EFP_MAX_REQUEST_BYTES", 1024 * 1024)
# A usage CSV (API `marketplace-usage-imports`, GUI Import usage) may be this large; those routes only
# (`EFP_IMPORT_PATHS`) take bodies up to it. 100,000 lines are about 8 MB.
EFP_MAX_IMPORT_BYTES = env_int("EFP_MAX_IMPORT_BYTES", 20 * 1024 * 1024)
EFP_IMPORT_PATHS = ("/api/marketplace-usage-imports/", "/provider/usage-import/")
# How long a file uploaded in the GUI's Import usage waits for its Apply (seconds).
EFP_STAGED_IMPORT_SECONDS = env_int("EFP_STAGED_IMPORT_SECONDS", 3600)

# Outside debug mode cookies travel over HTTPS only and browsers are told to use HTTPS for a year.
# TLS is expected to end at a reverse proxy in front of gunicorn (gunicorn trusts its X-Forwarded-Proto
# from 127.0.0.1); EFP_SECURE_SSL_REDIRECT=true also redirects plain HTTP requests that reach us.
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SESSION_COOKIE_HTTPONLY = True
SECURE_HSTS_SECONDS = 0 if DEBUG else 365 * 24 * 3600
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_SSL_REDIRECT = env_bool("EFP_SECURE_SSL_REDIRECT", False)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# A strict Content-Security-Policy on every response: scripts and styles only from our own static files
# (no inline <script>, no on* attributes, no style attributes), nothing framed, forms post to us only.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [NONE],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "manifest-src": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
        "base-uri": [NONE],
        "object-src": [NONE],
    }
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "efp.accounts.authentication.TokenAuthentication",
        "efp.accounts.oidc.bearer.BearerAuthentication",  # the issuer's access tokens, when EFP_OIDC_ISSUER
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "efp.structure.token_scope.TokenScope",  # a token limited to one offering (a site agent's)
    ],
    "DEFAULT_PAGINATION_CLASS": "efp.rest.pagination.LinkHeaderPagination",
    "DEFAULT_FILTER_BACKENDS": [
        "efp.structure.token_scope.TokenScopeFilter",  # a token limited to one offering lists only its rows
        "django_filters.rest_framework.DjangoFilterBackend",
        "efp.rest.filters.OrderingFilter",
    ],
    "DEFAULT_PARSER_CLASSES": [
        "efp.rest.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
        "efp.rest.csv_export.CsvRenderer",  # lists only: `?format=csv` (docs/compatibility.md)
    ],
    "EXCEPTION_HANDLER": "efp.rest.exceptions.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "efp.rest.schema.WaldurAutoSchema",
    "PAGE_SIZE": 10,
    "DATETIME_FORMAT": None,
    "COERCE_DECIMAL_TO_STRING": True,
    "ORDERING_PARAM": "o",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    # One budget per credential (API token, session user, else the client address): 429 with Retry-After.
    "DEFAULT_THROTTLE_CLASSES": ["efp.rest.throttling.CredentialRateThrottle"],
}
# Requests per credential and period (docs/deploy.md has the arithmetic for 1,000 site agents). Counted in
# each process's memory: with N gunicorn workers a client may make up to N times this.
EFP_API_RATE = parse_rate("EFP_API_RATE", env_str("EFP_API_RATE", "10000/minute"))
EFP_API_ANON_RATE = parse_rate("EFP_API_ANON_RATE", env_str("EFP_API_ANON_RATE", "600/minute"))

SPECTACULAR_SETTINGS = {
    "TITLE": "EFP Allocations API",
    "DESCRIPTION": "Allocation marketplace API, wire-compatible with Waldur's marketplace API.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Operation ids and tags from the path after /api/ (`marketplace_orders_list`, tag `marketplace-orders`).
    "SCHEMA_PATH_PREFIX": r"/api/",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "efp.rest.schema.add_count_operations",
        "efp.rest.schema.add_error_responses",
    ],
    # Waldur's names for the shared enums (the SDK's models are named after them), and no naming collisions.
    "ENUM_NAME_OVERRIDES": {
        "OrderState": "efp.marketplace.states.OrderState",
        "RequestTypes": "efp.marketplace.states.OrderType",
        "ResourceState": "efp.marketplace.states.ResourceState",
        "OfferingState": "efp.marketplace.models.offerings.Offering.State",
        "BillingTypeEnum": "efp.marketplace.models.offerings.OfferingComponent.BillingType",
        "LimitPeriodEnum": "efp.marketplace.models.offerings.OfferingComponent.LimitPeriod",
        "BillingUnit": "efp.marketplace.models.offerings.Plan.Unit",
        "AgentServiceState": "efp.marketplace.models.agents.AgentService.State",
        "OfferingUserState": "efp.marketplace.models.offering_users.OfferingUser.State",
        "NotificationDelivery": "efp.notifications.models.Delivery",
    },
    # Swagger UI from the drf-spectacular-sidecar package, not from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

EFP_VERSION = "0.1.0"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"one_line_refusals": {"()": "efp.outage.OneLineRefusals"}},
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("EFP_LOG_LEVEL", "WARNING")},
    # A refusal (401, 403, 404, 409, an outage's 503) is one line, never a traceback (efp/outage.py).
    "loggers": {"django.request": {"filters": ["one_line_refusals"]}},
}
