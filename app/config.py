"""Every environment variable TimeTracker reads, in one place, with its default.

Nothing else in the code base reads ``os.environ``: other modules read
``current_app.config``. Values are parsed strictly (an unknown boolean raises at
start-up instead of being silently treated as "off"), and every variable listed
here also appears in ``env.example`` and ``docs/configuration.md``.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, Mapping, MutableMapping
from urllib.parse import urlsplit

from flask import Flask

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class ConfigError(ValueError):
    """An environment variable holds a value we refuse to guess about."""


def parse_bool(name: str, raw: str | None, default: bool) -> bool:
    """Parse a boolean variable; raise on anything that is not clearly yes or no."""
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f"{name}={raw!r} is not a boolean (use true/false, 1/0, yes/no, on/off)")


def parse_int(name: str, raw: str | None, default: int, minimum: int = 0) -> int:
    """Parse an integer variable, refusing garbage and values below ``minimum``."""
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not an integer") from None
    if value < minimum:
        raise ConfigError(f"{name}={value} must be at least {minimum}")
    return value


def parse_float(name: str, raw: str | None, default: float, low: float, high: float) -> float:
    """Parse a float variable that must lie within ``[low, high]``."""
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number") from None
    if not low <= value <= high:
        raise ConfigError(f"{name}={value} must be between {low} and {high}")
    return value


_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def parse_log_level(name: str, raw: str | None, default: str) -> str:
    """Parse a logging level name (case-insensitive); numbers and typos raise."""
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().upper()
    if value not in _LOG_LEVELS:
        raise ConfigError(f"{name}={raw!r} is not a log level (use one of {', '.join(_LOG_LEVELS)})")
    return value


def parse_sentry_dsn(name: str, raw: str | None) -> str | None:
    """Accept an empty value (Sentry off) or an http(s) URL with a public key and project."""
    if raw is None or raw.strip() == "":
        return None
    value = raw.strip()
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.username or not parts.hostname \
            or not parts.path.strip("/"):
        raise ConfigError(f"{name} is not a Sentry DSN (https://PUBLIC_KEY@HOST/PROJECT_ID)")
    return value


def parse_choice(name: str, raw: str | None, default: str, choices: tuple[str, ...]) -> str:
    """Parse a value that must be one of ``choices`` (case-insensitive)."""
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value not in choices:
        raise ConfigError(f"{name}={raw!r} must be one of {', '.join(choices)}")
    return value


def parse_http_url(name: str, raw: str | None) -> str | None:
    """Accept an empty value (None) or an http(s) URL with a host."""
    if raw is None or raw.strip() == "":
        return None
    value = raw.strip()
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{name}={raw!r} is not an http(s) URL")
    return value


def check_otlp_credentials(endpoint: str | None, token: str | None) -> None:
    """Refuse an endpoint with user info (``https://user:pass@host``) beside GRAFANA_OTLP_TOKEN.

    The HTTP client turns a URL's user info into Basic auth, which replaces the token's
    Authorization header: one of the two would be dropped without a word, and which one the
    operator meant cannot be known. So the app does not start until one is removed.
    """
    if not endpoint or not token:
        return
    if "@" in urlsplit(endpoint).netloc:  # user info, with or without a password
        raise ConfigError(
            "GRAFANA_OTLP_ENDPOINT carries credentials (user:password@) and GRAFANA_OTLP_TOKEN "
            "is set too: only one of them would be sent. Remove the credentials from "
            "GRAFANA_OTLP_ENDPOINT or unset GRAFANA_OTLP_TOKEN.")


def parse_feature_flags(name: str, raw: str | None) -> dict[str, bool]:
    """``name=on,other=off`` → {"name": True, "other": False}; anything else raises."""
    flags: dict[str, bool] = {}
    for item in (raw or "").split(","):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key.replace("_", "").isalnum():
            raise ConfigError(f"{name}: {item.strip()!r} is not name=on|off")
        flags[key] = parse_bool(f"{name}[{key}]", value, False)
    return flags


def from_environ(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Build the Flask config dict from environment variables."""
    env = os.environ if environ is None else environ
    get = env.get

    data_dir = Path(get("DATA_DIR") or "./instance").resolve()
    otlp_endpoint = parse_http_url("GRAFANA_OTLP_ENDPOINT", get("GRAFANA_OTLP_ENDPOINT"))
    otlp_token = get("GRAFANA_OTLP_TOKEN") or None
    check_otlp_credentials(otlp_endpoint, otlp_token)  # both set: refused, never one dropped
    log_dir = Path(get("LOG_DIR") or "./logs").resolve()
    database_url = get("DATABASE_URL") or f"sqlite:///{data_dir / 'timetracker.db'}"
    # SQLAlchemy 2 wants the psycopg (v3) driver named explicitly; accept the
    # plain URLs hosting providers hand out.
    for prefix in ("postgres://", "postgresql://"):
        if database_url.startswith(prefix):
            database_url = "postgresql+psycopg://" + database_url[len(prefix):]

    return {
        "DATA_DIR": str(data_dir),
        "LOG_DIR": str(log_dir),
        # Unset: app/sessions.py takes the install's key from the database (generated once,
        # shared by every replica; app/services/secret_key.py). Preferred: set it here.
        "SECRET_KEY": get("SECRET_KEY") or None,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "HOST": get("HOST") or "127.0.0.1",
        # 0 lets the system pick a free port (tests); gunicorn logs the one it got.
        "PORT": parse_int("PORT", get("PORT"), 8000, minimum=0),
        "WEB_CONCURRENCY": parse_int("WEB_CONCURRENCY", get("WEB_CONCURRENCY"), 2, minimum=1),
        "APP_VERSION": get("APP_VERSION") or _package_version(),
        "SESSION_COOKIE_SECURE": parse_bool(
            "SESSION_COOKIE_SECURE", get("SESSION_COOKIE_SECURE"), False
        ),
        "REMEMBER_COOKIE_SECURE": parse_bool(
            "SESSION_COOKIE_SECURE", get("SESSION_COOKIE_SECURE"), False
        ),
        # Failed-login throttling (Flask-Limiter). memory:// is per process;
        # point this at Redis to share the counters between gunicorn workers.
        "RATELIMIT_STORAGE_URI": get("RATELIMIT_STORAGE_URI") or "memory://",
        "LOGIN_RATE_LIMIT_PER_ACCOUNT": get("LOGIN_RATE_LIMIT_PER_ACCOUNT") or "5 per 5 minutes",
        "LOGIN_RATE_LIMIT_PER_ADDRESS": get("LOGIN_RATE_LIMIT_PER_ADDRESS") or "20 per 5 minutes",
        # Number of reverse proxies in front of the app whose X-Forwarded-For /
        # -Proto headers are trusted (0 = none: the socket peer is the client).
        "PROXY_FIX_X_FOR": parse_int("PROXY_FIX_X_FOR", get("PROXY_FIX_X_FOR"), 0),
        # Optional single sign-on; the button stays hidden unless all three are set.
        "OIDC_ISSUER": get("OIDC_ISSUER") or None,
        "OIDC_CLIENT_ID": get("OIDC_CLIENT_ID") or None,
        "OIDC_CLIENT_SECRET": get("OIDC_CLIENT_SECRET") or None,
        "OIDC_SCOPES": get("OIDC_SCOPES") or "openid email profile",
        # Observability (docs/observability.md): JSON logs, /metrics, Sentry.
        "LOG_LEVEL": parse_log_level("LOG_LEVEL", get("LOG_LEVEL"), "INFO"),
        "LOG_MAX_BYTES": parse_int("LOG_MAX_BYTES", get("LOG_MAX_BYTES"), 10 * 1024 * 1024),
        "LOG_BACKUP_COUNT": parse_int("LOG_BACKUP_COUNT", get("LOG_BACKUP_COUNT"), 5),
        # Lines below WARNING wait up to this long and are written together (one system
        # call per batch instead of two per line); 0 writes each line at once.
        "LOG_FLUSH_SECONDS": parse_float("LOG_FLUSH_SECONDS", get("LOG_FLUSH_SECONDS"), 0.2,
                                         0.0, 10.0),
        "METRICS_ENABLED": parse_bool("METRICS_ENABLED", get("METRICS_ENABLED"), True),
        "METRICS_TOKEN": get("METRICS_TOKEN") or None,
        # Set by the launcher (gunicorn.conf.py) for prometheus-client's multiprocess mode:
        # each gunicorn master's own directory, below this one if the environment sets it.
        "PROMETHEUS_MULTIPROC_DIR": (
            str(Path(get("PROMETHEUS_MULTIPROC_DIR")).resolve())
            if get("PROMETHEUS_MULTIPROC_DIR") else None
        ),
        # Per-user runtime directory (systemd and the image set it): gunicorn.conf.py puts
        # each replica's own metrics directory below it unless PROMETHEUS_MULTIPROC_DIR is set.
        "RUNTIME_DIR": str(Path(get("XDG_RUNTIME_DIR") or tempfile.gettempdir()).resolve()),
        "SENTRY_DSN": parse_sentry_dsn("SENTRY_DSN", get("SENTRY_DSN")),
        "SENTRY_TRACES_RATE": parse_float(
            "SENTRY_TRACES_RATE", get("SENTRY_TRACES_RATE"), 0.0, 0.0, 1.0
        ),
        "SENTRY_ENVIRONMENT": get("SENTRY_ENVIRONMENT") or "production",
        # Telemetry (docs/telemetry/architecture.md, docs/privacy.md). Kill switches
        # beat every stored choice; the admin's choice itself lives in the database.
        "GRAFANA_OTLP_ENDPOINT": otlp_endpoint,
        "GRAFANA_OTLP_TOKEN": otlp_token,
        "DO_NOT_TRACK": parse_bool("DO_NOT_TRACK", get("DO_NOT_TRACK"), False),
        "TELEMETRY_DISABLED": parse_bool("TELEMETRY_DISABLED", get("TELEMETRY_DISABLED"), False),
        "TELEMETRY_DEBUG": parse_bool("TELEMETRY_DEBUG", get("TELEMETRY_DEBUG"), False),
        "TELEMETRY_EXPORT_TIMEOUT_SECONDS": parse_float(
            "TELEMETRY_EXPORT_TIMEOUT_SECONDS", get("TELEMETRY_EXPORT_TIMEOUT_SECONDS"), 2.0, 0.1, 10.0
        ),
        # How long detailed events wait to go out together (a batch also leaves when it
        # reaches 512 records): each export costs a request and an outbox write.
        "TELEMETRY_BATCH_DELAY_MS": parse_int(
            "TELEMETRY_BATCH_DELAY_MS", get("TELEMETRY_BATCH_DELAY_MS"), 5000, minimum=10
        ),
        "TELEMETRY_QUEUE_SIZE": parse_int(
            "TELEMETRY_QUEUE_SIZE", get("TELEMETRY_QUEUE_SIZE"), 1000, minimum=1
        ),
        # Who runs the receiver, how long they keep records, where their privacy notice is:
        # shown on the wizard and Admin → Telemetry (the recipient card), never sent.
        "TELEMETRY_RECIPIENT": (get("TELEMETRY_RECIPIENT") or "").strip()[:200] or None,
        "TELEMETRY_RETENTION_DAYS": (
            parse_int("TELEMETRY_RETENTION_DAYS", get("TELEMETRY_RETENTION_DAYS"), 0, minimum=1)
            if get("TELEMETRY_RETENTION_DAYS") else None
        ),
        "TELEMETRY_PRIVACY_URL": parse_http_url("TELEMETRY_PRIVACY_URL", get("TELEMETRY_PRIVACY_URL")),
        "TELEMETRY_BASE_INTERVAL_SECONDS": parse_int(
            "TELEMETRY_BASE_INTERVAL_SECONDS", get("TELEMETRY_BASE_INTERVAL_SECONDS"), 60, minimum=1
        ),
        "TELEMETRY_OUTBOX_RETENTION_DAYS": parse_int(
            "TELEMETRY_OUTBOX_RETENTION_DAYS", get("TELEMETRY_OUTBOX_RETENTION_DAYS"), 30, minimum=1
        ),
        "RELEASE_CHANNEL": parse_choice(
            "RELEASE_CHANNEL", get("RELEASE_CHANNEL"), "stable", ("stable", "beta", "dev")
        ),
        "DEPLOYMENT_TYPE": parse_choice(
            "DEPLOYMENT_TYPE", get("DEPLOYMENT_TYPE"), "auto", ("auto", "docker", "native")
        ),
        "FEATURE_FLAGS": parse_feature_flags("FEATURE_FLAGS", get("FEATURE_FLAGS")),
        # Background jobs (daily telemetry heartbeat); off under TESTING regardless.
        "SCHEDULER_ENABLED": parse_bool("SCHEDULER_ENABLED", get("SCHEDULER_ENABLED"), True),
    }


# Settings no variable sets, applied after the caller's config: a value the caller chose wins.
DEFAULTS: dict[str, Any] = {
    "WTF_CSRF_TIME_LIMIT": None,  # tokens live as long as the session
    "SESSION_COOKIE_HTTPONLY": True,
    "REMEMBER_COOKIE_HTTPONLY": True,
    "REMEMBER_COOKIE_SAMESITE": "Lax",
    # Flask-Limiter adds Retry-After (and X-RateLimit-*) to the throttled login's 429.
    "RATELIMIT_HEADERS_ENABLED": True,
    # With a Redis storage that goes away, count per worker in memory meanwhile
    # instead of failing every login with a 500.
    "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
}

# Flask's own defaults hold None for these, so a setdefault would never apply: None
# counts as "not chosen" here.
DEFAULTS_REPLACING_NONE: dict[str, Any] = {
    "SESSION_COOKIE_SAMESITE": "Lax",  # a cross-site POST then carries no session
    "MAX_CONTENT_LENGTH": 1 * 1024 * 1024,  # request bodies are capped
}


def init_app(app: Flask, config: Mapping[str, Any] | object | None = None) -> None:
    """Fill ``app.config``: the environment, then the caller's ``config`` (a dict or an
    object), then the defaults for whatever neither of them chose."""
    app.config.update(from_environ())
    if config is not None:
        if isinstance(config, Mapping):
            app.config.update(config)
        else:
            app.config.from_object(config)
    apply_defaults(app.config)


def apply_defaults(config: MutableMapping[str, Any]) -> None:
    """Set :data:`DEFAULTS`, :data:`DEFAULTS_REPLACING_NONE` and the engine options where
    unset."""
    for key, value in DEFAULTS.items():
        config.setdefault(key, value)
    for key, value in DEFAULTS_REPLACING_NONE.items():
        if config.get(key) is None:
            config[key] = value
    config.setdefault("SQLALCHEMY_ENGINE_OPTIONS",
                      engine_options(config["SQLALCHEMY_DATABASE_URI"]))


def engine_options(database_uri: str) -> dict[str, Any]:
    """SQLAlchemy's engine options for this database."""
    # A database error's message would otherwise carry "[parameters: ...]": note
    # text, emails, password hashes, into app.jsonl and Sentry events.
    options: dict[str, Any] = {"hide_parameters": True}
    if database_uri.startswith("sqlite"):
        # Wait for a writer instead of failing at once when gunicorn workers
        # or the timer and a report touch the file together.
        options["connect_args"] = {"timeout": 15}
    return options


def _package_version() -> str:
    version_file = Path(__file__).resolve().parent / "VERSION"
    try:
        return version_file.read_text().strip() or "0.0.0"
    except OSError:
        return "0.0.0"
