"""moxweb settings: every value comes from the environment, with embedded defaults.

All settings are documented in docs/configuration.md; keep the two in step.
"""
from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

from moxweb.logging import LEVELS as LOG_LEVELS
from moxweb.logging import logging_config, parse_component_levels

BASE_DIR = Path(__file__).resolve().parent.parent


def envbool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def envint(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        # Reported by the system check moxweb.E002 instead of a traceback at import.
        INVALID_SETTINGS.append(f"{name}={value!r} is not an integer")
        return default


def envstr(name: str, default: str) -> str:
    value = os.environ.get(name)
    return default if value is None or value == "" else value


INVALID_SETTINGS: list[str] = []


# WAL with the log synced at each commit (nothing acknowledged is lost); statement
# journals and temporary tables in memory: a delivery batch's multi-row INSERT spilled
# its statement journal into a file created and deleted in /var/tmp each time.
SQLITE_INIT = "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA temp_store=MEMORY;"


def database_from_url(url: str, data_dir: Path) -> dict[str, object]:
    """DATABASE_URL: sqlite:///path or postgresql://user:pass@host:port/name."""
    if not url:
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(data_dir / "moxweb.db"),
            "OPTIONS": {
                "timeout": 20,
                "transaction_mode": "IMMEDIATE",
                "init_command": SQLITE_INIT,
            },
            "TEST": {"NAME": str(data_dir / "test-moxweb.db")},
        }
    parsed = urlparse(url)
    if parsed.scheme in ("sqlite", "sqlite3"):
        path = unquote(parsed.path)
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": path,
            "OPTIONS": {
                "timeout": 20,
                "transaction_mode": "IMMEDIATE",
                "init_command": SQLITE_INIT,
            },
        }
    if parsed.scheme in ("postgres", "postgresql", "pgsql"):
        options = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
        # Like SQLite's busy timeout: a table locked by someone else gives an error (SMTP
        # answers 451) after 20 seconds instead of holding the session forever.
        options.setdefault("options", "-c lock_timeout=20s")
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(parsed.path.lstrip("/")) or "moxweb",
            "USER": unquote(parsed.username or ""),
            "PASSWORD": unquote(parsed.password or ""),
            "HOST": parsed.hostname or "",
            "PORT": str(parsed.port or ""),
            "OPTIONS": options,
            "CONN_MAX_AGE": 0,
        }
    INVALID_SETTINGS.append(f"DATABASE_URL scheme {parsed.scheme!r} is not sqlite or postgresql")
    return database_from_url("", data_dir)


# Data directory: database (SQLite), message files, certificates, temporary files.
DATA_DIR = Path(envstr("MOX_DATA_DIR", str(BASE_DIR / "data"))).resolve()

SECRET_KEY = envstr("MOX_SECRET_KEY", "")
if not SECRET_KEY:
    # A per-installation key, generated once and kept in the data directory.
    _key_file = DATA_DIR / "secret.key"
    try:
        SECRET_KEY = _key_file.read_text().strip()
    except OSError:
        SECRET_KEY = ""
    if not SECRET_KEY:
        import secrets

        SECRET_KEY = secrets.token_urlsafe(50)
        try:
            DATA_DIR.mkdir(parents=True, exist_ok=True)
            _key_file.write_text(SECRET_KEY)
            _key_file.chmod(0o600)
        except OSError:
            pass  # moxweb.E001 reports an unwritable data directory.

DEBUG = envbool("MOX_DEBUG", False)
ALLOWED_HOSTS = [h for h in envstr("MOX_ALLOWED_HOSTS", "*").split(",") if h]

# The mail hostname: greeting, EHLO, Received headers, postmaster@<hostname>.
MOX_HOSTNAME = envstr("MOX_HOSTNAME", "localhost")
# host:port of the DNS server that every lookup uses (tests point it at a test server).
MOX_DNS_RESOLVER = envstr("MOX_DNS_RESOLVER", "")
# Account that receives postmaster mail, and its mailbox.
MOX_POSTMASTER_ACCOUNT = envstr("MOX_POSTMASTER_ACCOUNT", "")
MOX_POSTMASTER_MAILBOX = envstr("MOX_POSTMASTER_MAILBOX", "Postmaster")
# Listeners: address list and ports. A port of 0 disables that listener.
MOX_LISTEN_IPS = [ip for ip in envstr("MOX_LISTEN_IPS", "0.0.0.0").split(",") if ip]
MOX_SMTP_PORT = envint("MOX_SMTP_PORT", 25)
MOX_SUBMISSION_PORT = envint("MOX_SUBMISSION_PORT", 587)
MOX_SUBMISSIONS_PORT = envint("MOX_SUBMISSIONS_PORT", 465)
MOX_IMAP_PORT = envint("MOX_IMAP_PORT", 143)
MOX_IMAPS_PORT = envint("MOX_IMAPS_PORT", 993)
MOX_HTTP_PORT = envint("MOX_HTTP_PORT", 80)
MOX_HTTPS_PORT = envint("MOX_HTTPS_PORT", 443)
MOX_METRICS_PORT = envint("MOX_METRICS_PORT", 8010)
# TLS certificate and key files for all listeners (ACME comes with the autotls app).
MOX_TLS_CERT = envstr("MOX_TLS_CERT", "")
MOX_TLS_KEY = envstr("MOX_TLS_KEY", "")
# Certificate files for one group of listeners instead (SMTP ports, IMAP ports, HTTPS).
MOX_SMTP_TLS_CERT = envstr("MOX_SMTP_TLS_CERT", "")
MOX_SMTP_TLS_KEY = envstr("MOX_SMTP_TLS_KEY", "")
MOX_IMAP_TLS_CERT = envstr("MOX_IMAP_TLS_CERT", "")
MOX_IMAP_TLS_KEY = envstr("MOX_IMAP_TLS_KEY", "")
MOX_HTTPS_TLS_CERT = envstr("MOX_HTTPS_TLS_CERT", "")
MOX_HTTPS_TLS_KEY = envstr("MOX_HTTPS_TLS_KEY", "")
# DNS block lists checked for incoming mail on port 25 (mox: none by default).
MOX_DNSBL_ZONES = [z.strip() for z in envstr("MOX_DNSBL_ZONES", "").split(",") if z.strip()]
# Outgoing SMTP TLS reports (RFC 8460) to domains that ask for them; by default only
# for days with a failed TLS session (as mox).
MOX_TLSRPT_SEND = envbool("MOX_TLSRPT_SEND", True)
MOX_TLSRPT_SEND_ALL_SUCCESS = envbool("MOX_TLSRPT_SEND_ALL_SUCCESS", False)
# Outgoing DMARC aggregate reports (RFC 7489 section 7.2) to domains whose record has rua=.
MOX_DMARC_REPORTS_SEND = envbool("MOX_DMARC_REPORTS_SEND", True)
# Seconds to wait before delivering port-25 mail accepted only for want of bad signals
# (mox SMTP.FirstTimeSenderDelay; localserve never waits).
MOX_FIRST_TIME_SENDER_DELAY = envint("MOX_FIRST_TIME_SENDER_DELAY", 15)
# Maximum message size in bytes (SMTP SIZE, IMAP APPENDLIMIT).
MOX_MAX_MESSAGE_SIZE = envint("MOX_MAX_MESSAGE_SIZE", 100 * 1024 * 1024)
# Start the delivery worker (django-q2 cluster) with runmail/localserve.
MOX_RUN_WORKER = envbool("MOX_RUN_WORKER", True)
# Processes serving incoming SMTP (port 25): runmail and localserve start the others as
# `manage.py smtpworker` children, and hand them connections after the limiters' check
# (smtpserver/handoff.py). By default one per CPU, at most 4: one process's Python runs on
# one CPU at a time.
MOX_SMTP_PROCESSES = envint("MOX_SMTP_PROCESSES", max(1, min(4, len(os.sched_getaffinity(0))
                                                             if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)))
if MOX_SMTP_PROCESSES < 1:
    INVALID_SETTINGS.append(f"MOX_SMTP_PROCESSES={MOX_SMTP_PROCESSES} must be at least 1")
    MOX_SMTP_PROCESSES = 1
# Redis, when set, is the django-q2 broker and the cross-machine change channel.
MOX_REDIS_URL = envstr("MOX_REDIS_URL", "")
# Log format: "text" (key=value) or "json"; level for all of moxweb.
MOX_LOG_FORMAT = envstr("MOX_LOG_FORMAT", "text")
MOX_LOG_LEVEL = envstr("MOX_LOG_LEVEL", "INFO").upper()
if MOX_LOG_LEVEL not in LOG_LEVELS:
    INVALID_SETTINGS.append(f"MOX_LOG_LEVEL={MOX_LOG_LEVEL!r} is not one of {', '.join(LOG_LEVELS)}")
    MOX_LOG_LEVEL = "INFO"
# Levels per component (mox's per-package log levels), e.g. "smtpserver=DEBUG,mailqueue=WARNING".
MOX_LOG_LEVELS, _log_level_problems = parse_component_levels(envstr("MOX_LOG_LEVELS", ""))
INVALID_SETTINGS.extend(_log_level_problems)
# Localserve mode: set by the localserve command, not by hand.
MOX_LOCALSERVE = envbool("MOX_LOCALSERVE", False)
# The account that localserve delivers every message to.
MOX_LOCALSERVE_ACCOUNT = envstr("MOX_LOCALSERVE_ACCOUNT", "mox")
# Automatic TLS (autotls): the ACME CA's directory URL, or "letsencrypt" or
# "letsencrypt-staging"; empty turns ACME off. See docs/configuration.md.
MOX_ACME_DIRECTORY = envstr("MOX_ACME_DIRECTORY", "")
MOX_ACME_EMAIL = envstr("MOX_ACME_EMAIL", "")
MOX_ACME_CHALLENGES = [c.strip() for c in envstr("MOX_ACME_CHALLENGES", "http-01,tls-alpn-01").split(",") if c.strip()]
MOX_ACME_HOSTNAMES = [h.strip() for h in envstr("MOX_ACME_HOSTNAMES", "").split(",") if h.strip()]
MOX_ACME_RENEW_DAYS = envint("MOX_ACME_RENEW_DAYS", 30)
MOX_ACME_CA_BUNDLE = envstr("MOX_ACME_CA_BUNDLE", "")
MOX_ACME_TIMEOUT = envint("MOX_ACME_TIMEOUT", 30)
MOX_ACME_ORDER_TIMEOUT = envint("MOX_ACME_ORDER_TIMEOUT", 120)

# Outgoing queue (mailqueue): retry schedule in seconds between attempts (mox: 7.5 min
# doubling to 8 h, so 8 attempts), the delayed DSN after that many failures, concurrency.
MOX_QUEUE_RETRY_INTERVALS = [
    int(x)
    for x in envstr("MOX_QUEUE_RETRY_INTERVALS", "450,900,1800,3600,7200,14400,28800").split(",")
    if x.strip().isdigit()
]
MOX_QUEUE_JITTER = envint("MOX_QUEUE_JITTER", 5)
MOX_QUEUE_DELAYED_DSN_AFTER = envint("MOX_QUEUE_DELAYED_DSN_AFTER", 5)
MOX_QUEUE_CONCURRENCY = envint("MOX_QUEUE_CONCURRENCY", 10)
MOX_QUEUE_PER_DOMAIN = envint("MOX_QUEUE_PER_DOMAIN", 1)
MOX_QUEUE_CLAIM_SECONDS = envint("MOX_QUEUE_CLAIM_SECONDS", 600)
MOX_QUEUE_RESERVE_SECONDS = envint("MOX_QUEUE_RESERVE_SECONDS", 120)
MOX_QUEUE_CONNECTION_MESSAGES = envint("MOX_QUEUE_CONNECTION_MESSAGES", 100)
MOX_QUEUE_TASK_SECONDS = envint("MOX_QUEUE_TASK_SECONDS", 30)
MOX_QUEUE_ATTEMPT_SECONDS = envint("MOX_QUEUE_ATTEMPT_SECONDS", 240)
MOX_QUEUE_DIAL_TIMEOUT = envint("MOX_QUEUE_DIAL_TIMEOUT", 30)
MOX_QUEUE_COMMAND_TIMEOUT = envint("MOX_QUEUE_COMMAND_TIMEOUT", 120)
MOX_QUEUE_CA_FILE = envstr("MOX_QUEUE_CA_FILE", "")
# Ports used when connecting out; only tests change them (SMTP to MX hosts, MTA-STS fetch).
MOX_QUEUE_SMTP_PORT = envint("MOX_QUEUE_SMTP_PORT", 25)
MOX_MTASTS_PORT = envint("MOX_MTASTS_PORT", 443)
# The MTA-STS policy we publish for our domains.
MOX_MTASTS_MODE = envstr("MOX_MTASTS_MODE", "enforce")
MOX_MTASTS_MAX_AGE = envint("MOX_MTASTS_MAX_AGE", 7 * 24 * 3600)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_q",
    "moxweb.apps.MoxwebConfig",
    "accounts",
    "mailstore",
    "mailqueue",
    "smtpserver",
    "imapserver",
    "autotls",
    "webadmin",
    "wellknown",
    "deliverylog",
    "reports",
    "webserver",
]

MIDDLEWARE = [
    # First, so it sees the cookies the session and CSRF middleware set.
    "webadmin.security.SecurityHeadersMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Static files served by the ASGI app itself (runmail has no separate web server).
    "servestatic.middleware.ServeStaticMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

# Web security (reference 1.3.1). Cookies are Secure when the page came over HTTPS
# (webadmin.security: one listener serves HTTP and HTTPS), never readable by scripts,
# and not sent along with cross-site POSTs.
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

ROOT_URLCONF = "moxweb.urls"
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
ASGI_APPLICATION = "moxweb.asgi.application"

DATABASES = {"default": database_from_url(envstr("DATABASE_URL", ""), DATA_DIR)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
# Serve app static files straight from the apps: no collectstatic step to forget.
SERVESTATIC_USE_FINDERS = True
SERVESTATIC_AUTOREFRESH = DEBUG

Q_CLUSTER: dict[str, object] = {
    "name": "moxweb",
    "workers": envint("MOX_WORKERS", 2),
    "timeout": 300,
    "retry": 360,
    "poll": 0.5,
    "catch_up": False,
    "save_limit": 1000,
    "max_attempts": 1,
    "label": "Tasks",
}
if MOX_REDIS_URL:
    Q_CLUSTER["redis"] = MOX_REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"

LOGGING = logging_config(MOX_LOG_FORMAT, MOX_LOG_LEVEL, MOX_LOG_LEVELS)
