"""litesite settings: one module. What a deployment varies comes from the environment; the
tuning knobs are constants.

Every setting is declared once, below, with its default. Bad environment values fail at start-up
with django-environ's error rather than half-working later. A tuning constant is changed here, or
for one process in a settings module of its own that does `from litesite.settings import *` and
overrides it (devcluster/settings.py, bench/faults_settings.py), chosen with
DJANGO_SETTINGS_MODULE; tests override them with pytest-django's `settings` fixture.
"""

import importlib.util
import math
from pathlib import Path
from urllib.parse import urlsplit

import environ
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from litesite.litefs import SiteDatabaseConnection

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()


def _env_bool(name: str, *, default: bool) -> bool:
    """Like env.bool, but a value that is neither true nor false fails loudly (DEBUG=ture)."""
    raw = env.str(name, default=str(default)).strip().lower()
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off", ""):
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {raw!r}.")


# --- Environment ------------------------------------------------------------------------------
DEBUG = _env_bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="")
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000")
DATABASE_URL = env.str("DATABASE_URL", default="sqlite:///var/site.sqlite3")
CACHE_DATABASE_URL = env.str("CACHE_DATABASE_URL", default="sqlite:///var/cache.sqlite3")
EMAIL_URL = env.str("EMAIL_URL", default="consolemail://")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="litesite <hello@localhost>")
CONTENT_DIR = Path(env.str("CONTENT_DIR", default=str(BASE_DIR / "content")))
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
# Hosts besides SITE_URL's, e.g. the app's fly.dev name while DNS still points elsewhere.
EXTRA_ALLOWED_HOSTS = env.list("EXTRA_ALLOWED_HOSTS", default=[])

# LiteFS and Fly (see litesite/litefs.py and shared LITEFS contract in the README).
LITEFS_DIR = env.str("LITEFS_DIR", default="")  # unset: standalone, this node is the primary
LITEFS_DB_NAME = env.str("LITEFS_DB_NAME", default="site.sqlite3")
LITEFS_API_URL = env.str("LITEFS_API_URL", default="http://127.0.0.1:20202")
FLY_MACHINE_ID = env.str("FLY_MACHINE_ID", default="")
FLY_APP_NAME = env.str("FLY_APP_NAME", default="")
# Believe the headers Fly's proxy sets (Fly-Client-IP, X-Forwarded-Proto) only where Fly's proxy
# is the one that sets them: on a Fly machine, which Fly gives both variables. Anywhere else a
# client could send them to dodge the sign-in limits or the HTTPS redirect. gunicorn.conf.py
# derives forwarded_allow_ips from the same variables.
TRUST_FLY_PROXY = _env_bool("TRUST_FLY_PROXY", default=bool(FLY_APP_NAME and FLY_MACHINE_ID))
FLY_REGION = env.str("FLY_REGION", default="local")
# The emulated LiteFS cluster (devcluster/: `manage.py cluster`, the cluster tests) is a
# development app: installed with DEBUG when its folder is there (never in the Docker image), or
# when asked for (the tests set DEVCLUSTER=true).
DEVCLUSTER = _env_bool(
    "DEVCLUSTER", default=DEBUG and importlib.util.find_spec("devcluster") is not None
)

# Accounts: sign-in links per 15 minutes (accounts/magic_links.py). The client is its IPv4
# address or IPv6 /64; the per-email cap alone is higher so a stranger cannot lock a reader out.
MAGIC_LINK_LIMIT_PER_EMAIL_AND_CLIENT = env.int("MAGIC_LINK_LIMIT_PER_EMAIL_AND_CLIENT", default=5)
MAGIC_LINK_LIMIT_PER_CLIENT = env.int("MAGIC_LINK_LIMIT_PER_CLIENT", default=10)
MAGIC_LINK_LIMIT_PER_EMAIL = env.int("MAGIC_LINK_LIMIT_PER_EMAIL", default=20)

# Calls
CALLS_MAX_BYTES = env.int("CALLS_MAX_BYTES", default=10 * 1024 * 1024)
CALLS_MAX_SECONDS = env.int("CALLS_MAX_SECONDS", default=5 * 60)
CALLS_INTRO_PATH = env.str("CALLS_INTRO_PATH", default="")  # empty: a generated default
CALLS_OUTRO_PATH = env.str("CALLS_OUTRO_PATH", default="")
# Per reader: calls waiting for an answer at once, and bytes of recordings sent in any 24 hours
# (deleted and published calls still count). 30 MB is three calls at the size limit.
CALLS_MAX_WAITING_PER_READER = env.int("CALLS_MAX_WAITING_PER_READER", default=3)
CALLS_DAILY_BYTES_PER_READER = env.int("CALLS_DAILY_BYTES_PER_READER", default=30 * 1024 * 1024)
# New recordings are refused while they would leave less than this free on the volume that holds
# the site database: sessions and post reads must always find room.
CALLS_MIN_FREE_DISK_BYTES = env.int("CALLS_MIN_FREE_DISK_BYTES", default=200 * 1024 * 1024)
FFMPEG_BINARY = env.str("FFMPEG_BINARY", default="ffmpeg")
FFPROBE_BINARY = env.str("FFPROBE_BINARY", default="ffprobe")
PODCAST_AUTHOR = env.str("PODCAST_AUTHOR", default="litesite")
PODCAST_CATEGORY = env.str("PODCAST_CATEGORY", default="Technology")
for _name in (
    "CALLS_MAX_BYTES",
    "CALLS_MAX_SECONDS",
    "CALLS_MAX_WAITING_PER_READER",
    "CALLS_DAILY_BYTES_PER_READER",
    "CALLS_MIN_FREE_DISK_BYTES",
):
    if globals()[_name] < 0:
        raise ImproperlyConfigured(f"{_name} must be 0 or more, not {globals()[_name]}.")

# Migration from the old Postgres site (legacy/): the source, and the old site's SESSION_SECRET.
POSTGRES_DATABASE_URL = env.str("POSTGRES_DATABASE_URL", default="")
LEGACY_SESSION_SECRET = env.str("LEGACY_SESSION_SECRET", default="")

# --- Tuning -----------------------------------------------------------------------------------
# The same on every deployment; see the module docstring for how to change one.

# How long a replica may hold a GET whose `__txid` cookie it has not reached yet.
LITEFS_TXID_WAIT_SECONDS = 2.0
# The cookie is the client's to forge, so the wait is bounded twice. A cookie further ahead of the
# replica than this many transactions replays to the primary at once: a replica that is going to
# catch up within the wait is behind by at most what the primary committed in that time, and
# LiteFS writes about 100 transactions/s per database: 200 in 2 s. Counted at 250/s for headroom
# (the figure is an order of magnitude), as a wrong "too far" only costs a trip to the primary.
# A settings module that changes the wait sets this too.
LITEFS_TXID_MAX_AHEAD = math.ceil(250 * LITEFS_TXID_WAIT_SECONDS)
# At most this many requests per gunicorn worker wait on replication at once (2 of fly.toml's 4
# threads); the rest replay to the primary at once, never queue. 0: never wait.
LITEFS_TXID_MAX_WAITERS = 2

# How long a write to the site database waits for another writer before the request is answered
# 503 + Retry-After (litesite/errors.py). It becomes DATABASES["default"]["OPTIONS"]["timeout"]
# below, which is what a settings module overrides.
SITE_DB_BUSY_TIMEOUT = 5.0

# cachedb: the cache file's size in entries (also CACHES' MAX_ENTRIES below, which a settings
# module that changes it sets too), the in-process tier of decoded values (0 turns it off), and
# how long cachified() callers wait for one computation.
CACHEDB_MAX_ENTRIES = 50_000
CACHEDB_MEMORY_ENTRIES = 256
CACHEDB_FETCH_TIMEOUT = 10.0
# How long a cache read or write waits for another writer before it is skipped (the value is
# computed instead). A cache write holds the lock for well under a millisecond, so a wait this
# long means the lock is held by something unusual (a purge, an index rebuild, another tool),
# and computing the value is cheaper than queueing behind it. See the README's "The cache".
# It becomes DATABASES["cache"]["OPTIONS"]["timeout"] below.
CACHEDB_BUSY_TIMEOUT = 0.1

# Blog
# A post whose Markdown takes longer answers 503 with a notice rather than holding the worker.
BLOG_COMPILE_TIMEOUT = 5.0
# Fraction of the estimated reading time a reader must spend before a read is reported.
BLOG_READ_THRESHOLD = 0.6
# Words per minute for the estimated reading time.
BLOG_WORDS_PER_MINUTE = 230
BLOG_POSTS_PER_PAGE = 10
# Seconds a post page's read ticket stays valid (blog/tickets.py): a page left open longer must
# be reloaded to report a read. Must stay under the 7-day read window (blog.models.READ_WINDOW),
# so that a replayed ticket never earns a second read; blog/checks.py refuses anything else.
BLOG_READ_TICKET_MAX_AGE = 24 * 60 * 60

# Calls: all the ffmpeg work of publishing one episode. A 5 + 5 minute episode, the longest the
# default limits allow, takes about 17 s on 2 busy cores; this leaves room for a slower machine.
CALLS_PUBLISH_TIMEOUT_SECONDS = 120

# --- Derived ----------------------------------------------------------------------------------
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("Set SECRET_KEY (required when DEBUG is off).")
    SECRET_KEY = "django-insecure-development-only-key"

_site = urlsplit(SITE_URL)
if _site.scheme not in ("http", "https") or not _site.hostname:
    raise ImproperlyConfigured(
        f"SITE_URL must be an http(s) URL like https://example.com, not {SITE_URL!r}."
    )
SITE_URL = SITE_URL.rstrip("/")
ALLOWED_HOSTS = [_site.hostname]
if DEBUG:
    ALLOWED_HOSTS += ["localhost", "127.0.0.1", "[::1]"]
ALLOWED_HOSTS += EXTRA_ALLOWED_HOSTS
CSRF_TRUSTED_ORIGINS = [f"{_site.scheme}://{_site.netloc}"]
for _limit in (
    "MAGIC_LINK_LIMIT_PER_EMAIL_AND_CLIENT",
    "MAGIC_LINK_LIMIT_PER_CLIENT",
    "MAGIC_LINK_LIMIT_PER_EMAIL",
):
    if globals()[_limit] < 1:
        raise ImproperlyConfigured(f"{_limit} must be 1 or more sign-in links.")

# --- Applications -----------------------------------------------------------------------------
INSTALLED_APPS = [
    "accounts.admin_site.AdminConfig",  # django.contrib.admin, signed into by magic link
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.sitemaps",
    "django.contrib.humanize",
    "csp",
    "litesite",
    "accounts",
    "blog",
    "calls",
    "cachedb",
    # The one-time cut-over from the old Postgres site (migrate_from_postgres, the old sign-in
    # cookies). A site done with it deletes this line and the legacy/ folder; nothing else uses it.
    "legacy",
]
if DEVCLUSTER:
    INSTALLED_APPS += ["devcluster"]

MIDDLEWARE = [
    # Outermost: counts each response by view and status as it leaves the site, after any
    # replay (litesite/metrics.py; README "Metrics for operators").
    "litesite.metrics.RequestMetricsMiddleware",
    # Then: replays to the primary before anything else runs, and the X-Litesite-* headers on
    # every response, static files included.
    "litesite.middleware.ReplicationMiddleware",
    # A view's "database is locked" / "disk is full" becomes 503 + Retry-After, not a 500.
    "litesite.errors.DatabaseBusyMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Content-Security-Policy on every response Django makes (CONTENT_SECURITY_POLICY below);
    # static files, answered by WhiteNoise just after, run no code of their own.
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "cachedb.middleware.ServerTimingMiddleware",
    "django.middleware.common.CommonMiddleware",
    "accounts.middleware.SessionMiddleware",
    # The old site's session cookie, exchanged once for a session here (legacy/middleware.py).
    *(["legacy.middleware.LegacySessionMiddleware"] if "legacy" in INSTALLED_APPS else []),
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.middleware.ClientIdMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "litesite.urls"
WSGI_APPLICATION = "litesite.wsgi.application"

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
                "litesite.context_processors.site",
            ],
        },
    },
]


# --- Databases --------------------------------------------------------------------------------
def _sqlite(url: str, *, alias: str, busy_timeout: float, **connect) -> dict:
    """A SQLite alias tuned for concurrent use, the same for both databases; `connect` adds
    arguments for sqlite3.connect()."""
    config = environ.Env.db_url_config(url)
    if config["ENGINE"] != "django.db.backends.sqlite3":
        raise ImproperlyConfigured(f"{alias} must be a sqlite:/// URL, not {url!r}.")
    path = Path(config["NAME"])
    if not path.is_absolute():
        path = BASE_DIR / path
    # SQLite creates the file but not its folder; a fresh checkout has no var/ yet.
    path.parent.mkdir(parents=True, exist_ok=True)
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": path,
        # Persistent connections: opening a SQLite file is cheap, but the PRAGMAs are not free.
        "CONN_MAX_AGE": None,
        "CONN_HEALTH_CHECKS": True,
        "OPTIONS": {
            # IMMEDIATE takes the write lock at BEGIN, so two writers queue on the busy timeout
            # instead of one failing with "database is locked" when it upgrades its read lock.
            "transaction_mode": "IMMEDIATE",
            "timeout": busy_timeout,
            # mmap stays off: LiteFS advises against it, and SQLite 3.40 has the WAL-reset bug.
            "init_command": (
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                "PRAGMA mmap_size=0; PRAGMA foreign_keys=ON;"
            ),
            **connect,
        },
        "TEST": {"NAME": str(path.with_name(f"test-{path.name}"))},
    }


DATABASES = {
    "default": _sqlite(
        DATABASE_URL,
        alias="DATABASE_URL",
        busy_timeout=SITE_DB_BUSY_TIMEOUT,
        # Notes LiteFS refusing a write on a replica, for the replication middleware.
        factory=SiteDatabaseConnection,
    ),
    "cache": _sqlite(
        CACHE_DATABASE_URL, alias="CACHE_DATABASE_URL", busy_timeout=CACHEDB_BUSY_TIMEOUT
    ),
}
if LITEFS_DIR:
    # LiteFS's files (-pos, .primary) are found by these two names: a mismatch would make every
    # replica look behind forever, silently.
    _site_db = DATABASES["default"]["NAME"]
    if _site_db.parent != Path(LITEFS_DIR) or _site_db.name != LITEFS_DB_NAME:
        raise ImproperlyConfigured(
            f"DATABASE_URL must name {LITEFS_DB_NAME} directly inside LITEFS_DIR "
            f"({LITEFS_DIR}), not {_site_db}."
        )
    if Path(DATABASES["cache"]["NAME"]).parent == Path(LITEFS_DIR):
        raise ImproperlyConfigured(
            "CACHE_DATABASE_URL must be outside LITEFS_DIR: every file in the mount is replicated."
        )
DATABASE_ROUTERS = ["cachedb.routers.CacheRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHES = {
    "default": {
        "BACKEND": "cachedb.backend.SQLiteCache",
        "LOCATION": "cache",
        "TIMEOUT": 300,
        "OPTIONS": {"MAX_ENTRIES": CACHEDB_MAX_ENTRIES},
    },
}

# --- Accounts and sessions --------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = ["accounts.backends.MagicLinkBackend"]
AUTH_PASSWORD_VALIDATORS = []
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "accounts:profile"
SESSION_ENGINE = "accounts.sessions"
SESSION_COOKIE_AGE = 365 * 24 * 60 * 60
SESSION_COOKIE_NAME = "litesite_session"
# Rolling sessions are extended by accounts.sessions, not on every request.
SESSION_SAVE_EVERY_REQUEST = False
MAGIC_LINK_MAX_AGE = 30 * 60
SESSION_RENEW_WHEN_REMAINING = 180 * 24 * 60 * 60
CLIENT_ID_COOKIE = "client_id"
# Flash messages ride in a cookie so showing one never writes the (replicated) database.
MESSAGE_STORAGE = "django.contrib.messages.storage.cookie.CookieStorage"

# EMAIL_BACKEND, EMAIL_HOST, ... from one URL: consolemail://, filemail:///path, smtp+tls://...
globals().update(environ.Env.email_url_config(EMAIL_URL))
if EMAIL_URL.startswith("filemail:"):
    # django-environ drops the leading slash of filemail:///abs/path; the folder is the URL's path.
    EMAIL_FILE_PATH = urlsplit(EMAIL_URL).path
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Publishing an episode emails the caller inside its transaction: a mail server that hangs must
# not hold SQLite's write lock for long.
EMAIL_TIMEOUT = 10

# --- Internationalisation ---------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files -----------------------------------------------------------------------------
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "var" / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        ),
    },
}

# --- Security ---------------------------------------------------------------------------------
# Uploads of recorded calls can be up to CALLS_MAX_BYTES; leave room for the form fields.
FILE_UPLOAD_MAX_MEMORY_SIZE = CALLS_MAX_BYTES + 1024 * 1024
if not DEBUG:
    if TRUST_FLY_PROXY:
        # Fly's edge terminates TLS and says so in X-Forwarded-Proto. Off Fly the header is
        # whatever the client sent (gunicorn passes it on even from peers it does not trust), so
        # request.is_secure() follows gunicorn's wsgi.url_scheme, which believes the header only
        # from forwarded_allow_ips (a proxy on this machine).
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = _env_bool("SECURE_SSL_REDIRECT", default=_site.scheme == "https")
    SECURE_REDIRECT_EXEMPT = [r"^healthcheck$"]
    SESSION_COOKIE_SECURE = _site.scheme == "https"
    CSRF_COOKIE_SECURE = _site.scheme == "https"
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_CONTENT_TYPE_NOSNIFF = True
    SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
# Content-Security-Policy (django-csp): pages load scripts, styles, images and audio from this
# site only, and nothing inline: no <script>/<style> blocks, no on*= handlers, no style
# attributes (post Markdown has raw HTML off, and table alignment is a class). data: is the
# inline favicon; blob: is the recorder's listen-back player. A post's SVG images get their own,
# stricter policy in blog.views.post_asset. DEBUG's 404 and 500 pages go without one.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "img-src": [SELF, "data:"],
        "media-src": [SELF, "blob:"],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}

# --- Logging ----------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
