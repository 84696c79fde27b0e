"""soraweb settings: everything from the environment, with embedded defaults for a laptop.

Unset DATABASE_URL means a SQLite file under var/; unset REDIS_URL means the embedded broker (soraweb/broker.py)
under var/. Production sets DEBUG=0, SECRET_KEY, ALLOWED_HOSTS, DATABASE_URL and REDIS_URL.
"""

import base64
import hashlib
import json
import os
from decimal import Decimal
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

from soraweb import envfile

BASE_DIR = Path(__file__).resolve().parent.parent
# The test suite runs on its own environment only: a developer's .env (DEBUG=1, keys) must not change it.
TESTING = os.environ.get("SORAWEB_TESTING", "").strip().lower() in {"1", "true", "yes", "on"}
if not TESTING:
    envfile.load()


def env(name, default=None):
    return os.environ.get(name, default)


def env_bool(name, default=False):
    return env(name, str(default)).strip().lower() in {"1", "true", "yes", "on"}


def env_list(name, default=""):
    return [item.strip() for item in env(name, default).split(",") if item.strip()]


def env_float(name, default):
    return float(env(name, default))


# Everything the processes write on local disk lives under here; soraweb.paths.ensure_dirs() creates it at
# start-up (never here: importing settings has no side effects).
VAR_DIR = Path(env("SORAWEB_VAR_DIR", BASE_DIR / "var"))

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG and not TESTING:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off (make run writes one into .env).")
    SECRET_KEY = "django-insecure-dev-only-" + "x" * 40

SITE_URL = env("SITE_URL", "http://127.0.0.1:8000").rstrip("/")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", SITE_URL if SITE_URL.startswith("https") else "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "axes",
    "soraweb",
    "projects",
    "providers",
    "renders",
    "quotas",
    "staff",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # right after authentication: audit entries name the request's user as the actor of every change
    "providers.audit.AuditActorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # axes last, as its docs ask: it reads the outcome of authentication
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "soraweb.urls"
WSGI_APPLICATION = "soraweb.wsgi.application"

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
                "django.template.context_processors.csp",
                "soraweb.context_processors.site",
            ],
        },
    },
]

# --- database -------------------------------------------------------------------------------
DATABASE_URL = env("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)}
else:
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": VAR_DIR / "soraweb.sqlite3"}}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Any SQLite file (the default, or a sqlite:/// DATABASE_URL such as the test worker's): web, worker and beat
    # all write. WAL lets readers run beside the one writer, IMMEDIATE takes the write lock at BEGIN (no deadlock
    # on upgrade), and the busy timeout makes writers queue, not fail.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- broker, cache ----------------------------------------------------------------------------
REDIS_URL = env("REDIS_URL")
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT = "soraweb.redis_broker:Transport"  # kombu's, guarded for Redis restarts
    # An unacknowledged message comes back after this long; the reaper, not redelivery, recovers a killed
    # worker's renders, so this only has to outlast the longest task (CELERY_TASK_TIME_LIMIT).
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL,
                          "KEY_PREFIX": env("CACHE_KEY_PREFIX", "soraweb")}}
else:
    # No server: messages are files under var/broker/, written and claimed by atomic renames (soraweb/broker.py;
    # kombu's own filesystem transport loses messages under concurrent producers and consumers).
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT = "soraweb.broker:Transport"
    CELERY_BROKER_TRANSPORT_OPTIONS = {"data_folder": str(VAR_DIR / "broker")}
    # Django culls a third of a file cache, at random, past MAX_ENTRIES (300 by default): that could drop the
    # heartbeats and kept uploads with the short-lived marks of renders on screen. Watched marks and throttles
    # expire on their own; 20,000 entries is far above what a team's day leaves.
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
                          "LOCATION": str(VAR_DIR / "cache"), "OPTIONS": {"MAX_ENTRIES": 20_000}}}

# Celery: JSON, ids only; late acks with idempotent tasks; one message at a time per process.
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = False  # the reaper, not redelivery, recovers work from a killed worker
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = int(env("CELERY_TASK_TIME_LIMIT", 600))
CELERY_TASK_SOFT_TIME_LIMIT = int(env("CELERY_TASK_SOFT_TIME_LIMIT", 540))
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "UTC"
# autodiscovery finds each app's tasks.py; task modules under another name are listed here
CELERY_IMPORTS = ["renders.housekeeping"]
# The periodic schedule (CELERY_BEAT_SCHEDULE) and its queue are at the end of this file, after the intervals.
CELERY_BEAT_SCHEDULER = "soraweb.celery.HeartbeatScheduler"
# The worker stamps a heartbeat this often; a worker or beat heartbeat older than STALE is "down" on /healthz.
HEARTBEAT_SECONDS = env_float("HEARTBEAT_SECONDS", 10)
HEARTBEAT_STALE_SECONDS = env_float("HEARTBEAT_STALE_SECONDS", 60)
# /healthz says "starting" (200), not "down", for a worker or beat not heard from yet this long after the web started.
HEALTHZ_STARTUP_GRACE_SECONDS = env_float("HEALTHZ_STARTUP_GRACE_SECONDS", 60)

# --- render pipeline --------------------------------------------------------------------------
# Every wait of the pipeline is one of these (in seconds), so tests and the fault matrix can shrink them.
# Models and the sizes each renders; seconds a render may ask for (sent to the provider as a string).
RENDER_MODELS = json.loads(env("RENDER_MODELS_JSON", "{}")) or {
    "sora-2": ["720x1280", "1280x720"],
    "sora-2-pro": ["720x1280", "1280x720", "1024x1792", "1792x1024", "1920x1080", "1080x1920"],
}
RENDER_SECONDS = [int(s) for s in env_list("RENDER_SECONDS", "4,8,12,16,20")]
RENDER_PROMPT_MAX_CHARS = int(env("RENDER_PROMPT_MAX_CHARS", 32000))
RENDER_REFERENCE_MAX_BYTES = int(env("RENDER_REFERENCE_MAX_BYTES", 20 * 1024 * 1024))
# 40 megapixels: any camera's photo, yet a decode stays near 120 MB (RGB), not the gigabytes of a bomb
RENDER_REFERENCE_MAX_PIXELS = int(env("RENDER_REFERENCE_MAX_PIXELS", 40_000_000))
# How often every page's poll asks for notices (and, on a studio page, teammates' new renders and moves). An
# unchanged project answers 204 after one indexed query (the project's change marker), so it can be short.
STUDIO_NOTICE_POLL_SECONDS = int(env("STUDIO_NOTICE_POLL_SECONDS", 2))
# The dispatcher (beat) claims due renders (polls, retries, waits that ended) this often...
RENDER_DISPATCH_INTERVAL_SECONDS = env_float("RENDER_DISPATCH_INTERVAL_SECONDS", 2)
# ...and sends a due render's task again if no worker has picked it up after this long (a lost message).
RENDER_DISPATCH_LEASE_SECONDS = env_float("RENDER_DISPATCH_LEASE_SECONDS", 60)
RENDER_DISPATCH_BATCH = int(env("RENDER_DISPATCH_BATCH", 200))
# A worker holding a render refreshes its heartbeat (a download, while bytes flow); silent this long, the render is
# resumed even though its worker still beats (a hung task). This and the worker beats below, not the broker's
# visibility timeout, recover a killed worker's renders. Must exceed the longest provider call (the client's timeouts).
RENDER_HEARTBEAT_SECONDS = env_float("RENDER_HEARTBEAT_SECONDS", 5)
RENDER_HEARTBEAT_STALE_SECONDS = env_float("RENDER_HEARTBEAT_STALE_SECONDS", 180)
# Each worker process that claims renders stamps its own beat this often (renders.workers); silent for DEAD_AFTER, it
# is dead, and the reaper (every REAP_INTERVAL) resumes what it held at once instead of after the stale heartbeat
# above: a killed worker's renders move again within DEAD_AFTER + REAP_INTERVAL + a dispatch.
WORKER_BEAT_SECONDS = env_float("WORKER_BEAT_SECONDS", 5)
WORKER_DEAD_AFTER_SECONDS = env_float("WORKER_DEAD_AFTER_SECONDS", 15)
RENDER_REAP_INTERVAL_SECONDS = env_float("RENDER_REAP_INTERVAL_SECONDS", 5)
# Polling: the first poll after the create; then the provider's openai-poll-after-ms hint (or our own
# backoff without one), never sooner than MIN nor later than MAX. With webhooks, polls are a rare safety net.
RENDER_POLL_INITIAL_SECONDS = env_float("RENDER_POLL_INITIAL_SECONDS", 10)
RENDER_POLL_MIN_SECONDS = env_float("RENDER_POLL_MIN_SECONDS", 5)
RENDER_POLL_MAX_SECONDS = env_float("RENDER_POLL_MAX_SECONDS", 30)
RENDER_POLL_BACKOFF = env_float("RENDER_POLL_BACKOFF", 1.5)
RENDER_POLL_WITH_WEBHOOKS_SECONDS = env_float("RENDER_POLL_WITH_WEBHOOKS_SECONDS", 300)
# A page showing an in-flight render (the studio's in-flight poll, the render page's live poll) marks it watched
# for WATCHED seconds; while watched, the worker polls it at the provider's hint within WATCHED_POLL_MIN..MAX
# (renders/watching.py). Unwatched, the intervals above apply.
RENDER_WATCHED_SECONDS = env_float("RENDER_WATCHED_SECONDS", 15)
RENDER_WATCHED_POLL_MIN_SECONDS = env_float("RENDER_WATCHED_POLL_MIN_SECONDS", 2)
RENDER_WATCHED_POLL_MAX_SECONDS = env_float("RENDER_WATCHED_POLL_MAX_SECONDS", 5)
# A job the provider has not finished this long after the create is given up (failed, refunded).
RENDER_TRACK_DEADLINE_SECONDS = env_float("RENDER_TRACK_DEADLINE_SECONDS", 3600)
# Retries of one step (a refused create, a poll, a download) after provider faults: exponential with jitter.
RENDER_RETRY_BASE_SECONDS = env_float("RENDER_RETRY_BASE_SECONDS", 2)
RENDER_RETRY_MAX_SECONDS = env_float("RENDER_RETRY_MAX_SECONDS", 60)
RENDER_MAX_ATTEMPTS = int(env("RENDER_MAX_ATTEMPTS", 6))
# A create answered "no such deployment" (Azure, for minutes after a deployment is made): sent again this often,
# for at most this long in all; then the render fails with that reason (nothing was created, so nothing is billed).
RENDER_DEPLOYMENT_RETRY_SECONDS = env_float("RENDER_DEPLOYMENT_RETRY_SECONDS", 30)
RENDER_DEPLOYMENT_WAIT_SECONDS = env_float("RENDER_DEPLOYMENT_WAIT_SECONDS", 600)
# No usable key (or no free slot): look again after this long...
RENDER_KEY_RETRY_SECONDS = env_float("RENDER_KEY_RETRY_SECONDS", 15)
# ...for at most this long in all (the render keeps its quota reservation meanwhile); then it fails as
# "no usable key" and is refunded. QUOTA_MAX_KEY_WAIT_SECONDS is the variable's former name, still read.
RENDER_MAX_KEY_WAIT_SECONDS = int(env("RENDER_MAX_KEY_WAIT_SECONDS") or env("QUOTA_MAX_KEY_WAIT_SECONDS") or 3600)
# The reconciler: runs this often; looks for a create whose outcome is unknown after RECONCILE_AFTER; a listed
# job matches if created within WINDOW of our create; no match in a complete listing RESEND_AFTER the create (never
# less than twice PROVIDER_TIMEOUT_SECONDS): the provider never made the job, and the render is sent again.
RENDER_RECONCILE_INTERVAL_SECONDS = env_float("RENDER_RECONCILE_INTERVAL_SECONDS", 30)
RENDER_RECONCILE_AFTER_SECONDS = env_float("RENDER_RECONCILE_AFTER_SECONDS", 20)
RENDER_RECONCILE_WINDOW_SECONDS = env_float("RENDER_RECONCILE_WINDOW_SECONDS", 300)
RENDER_RECONCILE_RESEND_AFTER_SECONDS = env_float("RENDER_RECONCILE_RESEND_AFTER_SECONDS", 60)
RENDER_RECONCILE_CLOCK_SKEW_SECONDS = env_float("RENDER_RECONCILE_CLOCK_SKEW_SECONDS", 30)
# While the same creates on a key stay unknown and its listings settle none of them, the next listing of the key
# waits longer: the gap doubles from RENDER_RECONCILE_INTERVAL_SECONDS up to this (a listing costs the key's rate
# budget). A new unknown create on the key, or a listing that settles one, lists at once again; so does the moment a
# render may be sent again (RESEND_AFTER). Set it to the interval for one listing per round.
RENDER_RECONCILE_LIST_MAX_GAP_SECONDS = env_float("RENDER_RECONCILE_LIST_MAX_GAP_SECONDS", 120)
# A stored webhook delivery not applied this long after it arrived (its task was lost) is queued again.
RENDER_WEBHOOK_REQUEUE_AFTER_SECONDS = env_float("RENDER_WEBHOOK_REQUEUE_AFTER_SECONDS", 30)
# A key without a list endpoint cannot look a lost create up: the render waits this long for a webhook or for staff
# to adopt its job id (staff pages: "Unknown outcomes"), then fails as outcome unknown, refunded, with an incident of
# what the provider may have billed. Generous: adopting is cheaper than reconciling a bill.
RENDER_ADOPT_WAIT_SECONDS = env_float("RENDER_ADOPT_WAIT_SECONDS", 3600)
# The provider client's timeouts (read, write and pool; connect). A create that times out after it was sent has an
# unknown outcome: the reconciler's resend waits at least twice PROVIDER_TIMEOUT_SECONDS (and any provider latency).
PROVIDER_TIMEOUT_SECONDS = env_float("PROVIDER_TIMEOUT_SECONDS", 30)
PROVIDER_CONNECT_TIMEOUT_SECONDS = env_float("PROVIDER_CONNECT_TIMEOUT_SECONDS", 10)
# Provider base URLs (and their redirects) and outbound webhook endpoints are https to public addresses only
# (soraweb.outbound: no metadata service, no loopback or private network; checked on save and at each connection).
# On, loopback, private and other non-public addresses and plain http are allowed too: for local servers such as
# sorasim (`make run` writes OUTBOUND_ALLOW_PRIVATE=1 into .env; the tests turn it on). Not tied to DEBUG.
OUTBOUND_ALLOW_PRIVATE = env_bool("OUTBOUND_ALLOW_PRIVATE", False)
# Downloads stream into a part file here (local disk, also with S3 storage) and reach storage only when complete;
# each attempt writes a part file of its own, and removes the ones earlier attempts left (a killed worker's); the
# hourly housekeeping removes any other part file that no live attempt writes.
RENDER_DOWNLOAD_DIR = Path(env("RENDER_DOWNLOAD_DIR", VAR_DIR / "downloads"))

# --- auth -------------------------------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = int(env("AXES_FAILURE_LIMIT", 5))
AXES_COOLOFF_TIME = float(env("AXES_COOLOFF_HOURS", 0.25))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_RESET_ON_SUCCESS = True
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
INVITATION_EXPIRY_DAYS = int(env("INVITATION_EXPIRY_DAYS", 7))
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"

# --- email ------------------------------------------------------------------------------------
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "soraweb <soraweb@localhost>")
if env("EMAIL_HOST"):
    MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {
                "host": env("EMAIL_HOST"),
                "port": int(env("EMAIL_PORT", 587)),
                "username": env("EMAIL_HOST_USER", ""),
                "password": env("EMAIL_HOST_PASSWORD", ""),
                "use_tls": env_bool("EMAIL_USE_TLS", True),
            },
        }
    }
else:
    # console by default: invitation and reset links appear in the web and worker output
    MAILERS = {"default": {"BACKEND": "django.core.mail.backends.console.EmailBackend"}}

# --- i18n -------------------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = env("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# --- quotas -----------------------------------------------------------------------------------
# Per-user allowances per calendar month in TIME_ZONE (overrides per user and per project in the admin).
# An empty value or "none" means no limit on that dimension.
def _env_limit(name, default, cast):
    raw = env(name, default)
    return None if raw is None or str(raw).strip().lower() in {"", "none"} else cast(str(raw).strip())


QUOTA_DEFAULT_MONTHLY_SECONDS = _env_limit("QUOTA_DEFAULT_MONTHLY_SECONDS", "300", int)
QUOTA_DEFAULT_MONTHLY_SPEND_USD = _env_limit("QUOTA_DEFAULT_MONTHLY_SPEND_USD", "50.00", Decimal)
QUOTA_DEFAULT_CONCURRENT_RENDERS = _env_limit("QUOTA_DEFAULT_CONCURRENT_RENDERS", "3", int)
QUOTA_DEFAULT_PROJECT_BUDGET_USD = _env_limit("QUOTA_DEFAULT_PROJECT_BUDGET_USD", "", Decimal)
# USD per second of video, per model and size (the reference's prices). QUOTA_PRICES_JSON overrides
# entries, e.g. {"sora-2-pro": {"1792x1024": "0.60"}}; a dated alias (sora-2-pro-2025-10-06) takes its base's price.
QUOTA_PRICES = {
    "sora-2": {"720x1280": Decimal("0.10"), "1280x720": Decimal("0.10")},
    "sora-2-pro": {
        "720x1280": Decimal("0.30"), "1280x720": Decimal("0.30"),
        "1024x1792": Decimal("0.50"), "1792x1024": Decimal("0.50"),
        # 1080p: not in the reference; the price resellers list
        "1920x1080": Decimal("0.70"), "1080x1920": Decimal("0.70"),
    },
}
for _model, _sizes in json.loads(env("QUOTA_PRICES_JSON", "{}")).items():
    QUOTA_PRICES.setdefault(_model, {}).update({size: Decimal(str(price)) for size, price in _sizes.items()})

# --- static and media -------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = Path(env("MEDIA_ROOT", VAR_DIR / "media"))
MEDIA_URL = "/media/"  # never served directly: assets go through a membership-checked view
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
if env("AWS_STORAGE_BUCKET_NAME"):
    # S3-compatible storage; assets are handed out as short-lived presigned URLs, never public ones.
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env("AWS_STORAGE_BUCKET_NAME"),
            "endpoint_url": env("AWS_S3_ENDPOINT_URL") or None,
            "region_name": env("AWS_S3_REGION_NAME") or None,
            "default_acl": "private",
            "querystring_auth": True,
            "querystring_expire": int(env("AWS_QUERYSTRING_EXPIRE", 300)),
            "file_overwrite": False,
        },
    }
# In production behind nginx: serve local assets with X-Accel-Redirect to this internal location.
ASSET_ACCEL_REDIRECT_PREFIX = env("ASSET_ACCEL_REDIRECT_PREFIX", "")

# --- secrets at rest --------------------------------------------------------------------------
# Fernet keys, newest first: the first encrypts, all decrypt (rotate with `manage.py rotate_secrets`).
FIELD_ENCRYPTION_KEYS = env_list("FIELD_ENCRYPTION_KEYS")
if not FIELD_ENCRYPTION_KEYS:
    if not DEBUG and not TESTING:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS must be set when DEBUG is off.")
    FIELD_ENCRYPTION_KEYS = [base64.urlsafe_b64encode(hashlib.sha256(SECRET_KEY.encode()).digest()).decode()]

# --- security ---------------------------------------------------------------------------------
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:", "blob:"],
    "media-src": [CSP.SELF, "blob:"],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
    # browsers POST what the policy blocked here; soraweb.views.csp_report logs one line per violation
    "report-uri": ["/csp-report/"],
}
if env("AWS_STORAGE_BUCKET_NAME"):
    _bucket_origin = env("AWS_S3_ENDPOINT_URL") or "https://*.amazonaws.com"
    SECURE_CSP["img-src"].append(_bucket_origin)
    SECURE_CSP["media-src"].append(_bucket_origin)

# A CSP report bigger than this is refused (413) unread; a real one is well under 2 KB.
CSP_REPORT_MAX_BYTES = int(env("CSP_REPORT_MAX_BYTES", 16 * 1024))

# Rate limits on our own write endpoints (soraweb.ratelimits), per user, checked after the membership and role
# checks (a 429 never hides a 404 or 403); answered 429 with Retry-After. Generous: they stop a runaway script or
# a stuck key, not a busy person. An empty value or "none" turns a limit off. Submits count the studio's submit
# (one for all its variations), remixes and retries; CSP reports are counted per client address.
RATE_LIMIT_SUBMITS_PER_MINUTE = _env_limit("RATE_LIMIT_SUBMITS_PER_MINUTE", "20", int)
RATE_LIMIT_COMMENTS_PER_MINUTE = _env_limit("RATE_LIMIT_COMMENTS_PER_MINUTE", "30", int)
RATE_LIMIT_INVITATIONS_PER_HOUR = _env_limit("RATE_LIMIT_INVITATIONS_PER_HOUR", "50", int)
RATE_LIMIT_CSP_REPORTS_PER_MINUTE = _env_limit("RATE_LIMIT_CSP_REPORTS_PER_MINUTE", "60", int)

SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# Production hardening; the test server speaks plain HTTP to the test browser (check --deploy is tested apart).
if not DEBUG and not TESTING:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(env("SECURE_HSTS_SECONDS", 31536000))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {"httpx": {"level": "WARNING"}, "httpcore": {"level": "WARNING"}},
}

# --- key administration, incidents and housekeeping ---------------------------------------------
# Keys out of credit or invalid get an incident (one email to staff each) within this many seconds.
KEY_INCIDENT_SWEEP_SECONDS = env_float("KEY_INCIDENT_SWEEP_SECONDS", 30)
# Housekeeping removes stored files of deleted renders and unused uploads this often; a file no render points to
# is left alone until it is this old (it may belong to a submit or a download that is committing right now).
HOUSEKEEPING_INTERVAL_SECONDS = env_float("HOUSEKEEPING_INTERVAL_SECONDS", 3600)
HOUSEKEEPING_GRACE_SECONDS = env_float("HOUSEKEEPING_GRACE_SECONDS", 86400)

# --- periodic tasks (celery beat) -------------------------------------------------------------
# Every periodic task of every app, in one place. expires: a tick that waited in the queue much longer than its
# period is useless (later ones are coming).
CELERY_BEAT_SCHEDULE = {
    "heartbeat": {"task": "soraweb.tasks.heartbeat", "schedule": HEARTBEAT_SECONDS},
    "renders-dispatch": {"task": "renders.tasks.dispatch_due_renders", "schedule": RENDER_DISPATCH_INTERVAL_SECONDS,
                         "options": {"expires": max(2 * RENDER_DISPATCH_INTERVAL_SECONDS, 2)}},
    "renders-reconcile": {"task": "renders.tasks.reconcile_renders", "schedule": RENDER_RECONCILE_INTERVAL_SECONDS,
                          "options": {"expires": max(2 * RENDER_RECONCILE_INTERVAL_SECONDS, 2)}},
    "renders-reap": {"task": "renders.tasks.reap_quiet_renders", "schedule": RENDER_REAP_INTERVAL_SECONDS,
                     "options": {"expires": max(2 * RENDER_REAP_INTERVAL_SECONDS, 2)}},
    "providers-key-incidents": {"task": "providers.tasks.sweep_key_incidents", "schedule": KEY_INCIDENT_SWEEP_SECONDS,
                                "options": {"expires": max(KEY_INCIDENT_SWEEP_SECONDS, 1)}},
    "renders-housekeeping": {"task": "renders.housekeeping.sweep_storage", "schedule": HOUSEKEEPING_INTERVAL_SECONDS,
                             "options": {"expires": max(HOUSEKEEPING_INTERVAL_SECONDS, 1)}},
}
# The dispatcher's and the reconciler's ticks have a queue of their own, which every worker also consumes (in turn
# with the default one): behind a backlog of render work they would otherwise wait until they expire, and nothing
# would be dispatched, reconciled or reaped while the backlog lasts.
CELERY_TASK_QUEUES = {"celery": {}, "periodic": {}}  # bound to the default exchange by their names
CELERY_TASK_ROUTES = {
    "renders.tasks.dispatch_due_renders": {"queue": "periodic"},
    "renders.tasks.reconcile_renders": {"queue": "periodic"},
    "renders.tasks.reap_quiet_renders": {"queue": "periodic"},
}
