"""Fangyi settings, all from the environment (see README "Configuration")."""

import os
from pathlib import Path

import dj_database_url

SRC_DIR = Path(__file__).resolve().parent
BASE_DIR = Path(os.environ.get("FANGYI_HOME", SRC_DIR.parent.parent))
VAR_DIR = Path(os.environ.get("FANGYI_VAR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def envbool(name: str, default: str = "False") -> bool:
    return os.environ.get(name, default).lower() in ("1", "true", "yes", "on")


def envint(name: str, default: str) -> int:
    return int(os.environ.get(name, default))


def secret_from_env_or_file(name: str, path: Path) -> str:
    """A secret from the environment (or NAME_FILE), else one generated once into var/.

    The generated file suits the demo; production sets the variables explicitly."""
    value = os.environ.get(name)
    if value:
        return value
    file_value = os.environ.get(f"{name}_FILE")
    if file_value:
        return Path(file_value).read_text().strip()
    if not path.exists():
        import secrets

        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


DEBUG = envbool("FANGYI_DEBUG")
SECRET_KEY = secret_from_env_or_file("SECRET_KEY", VAR_DIR / "secret.key")
# Key for personal-data encryption and keyed hashes (core.crypto). Losing it loses the data.
FANGYI_DATA_KEY = secret_from_env_or_file("FANGYI_DATA_KEY", VAR_DIR / "data.key")

ALLOWED_HOSTS = os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost").split(",")
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "axes",
    "huey.contrib.djhuey",
    "ninja",
    "fangyi.core",
    "fangyi.geo",
    "fangyi.accounts",
    "fangyi.people",
    "fangyi.diseases",
    "fangyi.cases",
    "fangyi.tracing",
    "fangyi.measures",
    "fangyi.lab",
    "fangyi.travel",
    "fangyi.surveillance",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "fangyi.core.middleware.ContentSecurityPolicyMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "fangyi.urls"
WSGI_APPLICATION = "fangyi.wsgi.application"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [SRC_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "fangyi.core.context_processors.open_alerts",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'fangyi.sqlite3'}"),
        conn_max_age=envint("DB_CONN_MAX_AGE", "0"),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        # WAL lets the job consumer write while pages read; IMMEDIATE avoids
        # "database is locked" on lock upgrade inside transactions.
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "fangyi.accounts.backends.RoleBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Lock-out after repeated failures, per user name and address.
AXES_FAILURE_LIMIT = envint("AXES_FAILURE_LIMIT", "5")
AXES_COOLOFF_TIME = 0.5  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "accounts/locked_out.html"
AXES_VERBOSE = False

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [SRC_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
NODE_MODULES = BASE_DIR / "node_modules"
# Front-end packages come from the npm registry (package.json) and are served by whitenoise.
STATICFILES_DIRS = [
    SRC_DIR / "static",
    ("vendor/htmx", NODE_MODULES / "htmx.org" / "dist"),
    ("vendor/echarts", NODE_MODULES / "echarts" / "dist"),
    ("vendor/pico", NODE_MODULES / "@picocss" / "pico" / "css"),
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = 12 * 3600
SESSION_COOKIE_SECURE = envbool("FANGYI_HTTPS")
CSRF_COOKIE_SECURE = envbool("FANGYI_HTTPS")
SECURE_SSL_REDIRECT = envbool("FANGYI_HTTPS")
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", "31536000" if envbool("FANGYI_HTTPS") else "0")
SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("FANGYI_HTTPS")
SECURE_HSTS_PRELOAD = envbool("FANGYI_HTTPS")
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if envbool("FANGYI_HTTPS") else None
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# Jobs: Huey on Redis when REDIS_URL is set, else on a SQLite file under var/.
REDIS_URL = os.environ.get("REDIS_URL", "")
HUEY = {
    "name": "fangyi",
    # Cron hours of the periodic jobs ("just after midnight") are local time: huey reads
    # the process clock, which Django sets to TIME_ZONE. With huey's default (UTC) they
    # ran 8 hours late.
    "utc": False,
    "immediate": envbool("FANGYI_JOBS_IMMEDIATE"),
    "consumer": {"workers": envint("FANGYI_JOB_WORKERS", "2"), "worker_type": "thread"},
}
if REDIS_URL:
    HUEY |= {"huey_class": "huey.RedisHuey", "url": REDIS_URL}
else:
    HUEY |= {"huey_class": "huey.SqliteHuey", "filename": str(VAR_DIR / "jobs.sqlite3")}

# The cache holds counters every server process must share (rate limits of the person's
# phone link): Redis when REDIS_URL is set, else files under var/. The file cache re-saves a
# counter with the default timeout at each increment, so that timeout outlasts a window.
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
            "TIMEOUT": 2 * 3600,
            "OPTIONS": {"MAX_ENTRIES": 20000},
        }
    }
# The person's phone link: checks submitted per link, and requests per client address, per hour.
SELF_CHECK_SUBMISSIONS_PER_HOUR = envint("FANGYI_SELF_CHECK_SUBMISSIONS_PER_HOUR", "12")
# Generous: mobile carriers put many phones behind one address (carrier-grade NAT).
SELF_CHECK_REQUESTS_PER_ADDRESS_HOUR = envint("FANGYI_SELF_CHECK_REQUESTS_PER_ADDRESS_HOUR", "1200")
# The public arrival self-report page, its receipt lookup and the public risk-area list.
TRAVEL_SELF_REPORT_REQUESTS_PER_ADDRESS_HOUR = envint(
    "FANGYI_TRAVEL_SELF_REPORT_REQUESTS_PER_ADDRESS_HOUR", "600"
)
TRAVEL_SELF_REPORTS_PER_PHONE_HOUR = envint("FANGYI_TRAVEL_SELF_REPORTS_PER_PHONE_HOUR", "5")
TRAVEL_RECEIPT_LOOKUPS_PER_ADDRESS_HOUR = envint(
    "FANGYI_TRAVEL_RECEIPT_LOOKUPS_PER_ADDRESS_HOUR", "30"
)
PUBLIC_RISK_AREAS_REQUESTS_PER_ADDRESS_HOUR = envint(
    "FANGYI_PUBLIC_RISK_AREAS_REQUESTS_PER_ADDRESS_HOUR", "1200"
)

PERSON_PAGE_SIZE = 50
EXPORT_MAX_ROWS = envint("FANGYI_EXPORT_MAX_ROWS", "100000")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("FANGYI_LOG_LEVEL", "INFO")},
    # huey's consumer logs through its own handler.
    # WeasyPrint logs every layout step at INFO.
    "loggers": {
        "axes": {"level": "WARNING"},
        "huey": {"propagate": False},
        "weasyprint": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
    },
}

# Same person + same disease diagnosed within this many days: the reporter must confirm (查重).
CASE_DUPLICATE_WINDOW_DAYS = envint("FANGYI_CASE_DUPLICATE_WINDOW_DAYS", "30")

# Where messages out of the system (SMS) go: a class with `channel` and
# `deliver(user, message)`; the default only logs them (fangyi.surveillance.notify).
FANGYI_NOTIFIER = os.environ.get("FANGYI_NOTIFIER", "fangyi.surveillance.notify.LoggingNotifier")
# Local hour from which the day's detector run happens (CIDARS computes each morning).
SURVEILLANCE_RUN_HOUR = envint("FANGYI_SURVEILLANCE_RUN_HOUR", "6")
