"""Showing URLs that may carry credentials (``http://user:pass@host``) without them."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

MASK = "***"


def mask_url_credentials(url: str) -> str:
    """``url`` with its user name and password replaced by ``***`` (host, port, path kept).

    For display only (Admin → Telemetry, the API, ``flask telemetry status``, logs):
    an OTLP endpoint such as ``https://12345:glc_token@otlp.example/otlp`` shows as
    ``https://***:***@otlp.example/otlp``. A URL without credentials comes back
    unchanged; one that cannot be parsed is masked whole rather than shown.
    """
    if not url:
        return url
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:  # an invalid port or bracketed host: show nothing of it
        return MASK
    if parts.username is None and parts.password is None and "@" not in parts.netloc:
        return url
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    userinfo = MASK if parts.password is None else f"{MASK}:{MASK}"
    netloc = f"{userinfo}@{host}" + (f":{port}" if port is not None else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
