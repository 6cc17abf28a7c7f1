"""Showing URLs that may carry credentials (``http://user:pass@host``) without them."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

MASK = "***"


def mask_url_credentials(url: str) -> str:
    """``url`` with its user name, password and every query value replaced by ``***``
    (scheme, host, port, path and the query's names kept).

    For display only (Admin → Telemetry, the API, ``flask telemetry status``, logs):
    an OTLP endpoint such as ``https://12345:glc_token@otlp.example/otlp?token=s`` shows as
    ``https://***:***@otlp.example/otlp?token=***``: a receiver may take its secret in the
    query as well as in the user info. A fragment is masked whole. A URL without any of these
    comes back unchanged; one that cannot be parsed is masked whole rather than shown.
    """
    if not url:
        return url
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:  # an invalid port or bracketed host: show nothing of it
        return MASK
    netloc = parts.netloc
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        if ":" in host:  # IPv6 literal
            host = f"[{host}]"
        userinfo = MASK if parts.password is None else f"{MASK}:{MASK}"
        netloc = f"{userinfo}@{host}" + (f":{port}" if port is not None else "")
    return urlunsplit((parts.scheme, netloc, parts.path, _mask_query(parts.query),
                       MASK if parts.fragment else ""))


def _mask_query(query: str) -> str:
    """Every value masked, names kept (``a=1&b=2`` → ``a=***&b=***``); an item without ``=``
    may be a bare token, so it is masked whole (``?glc_x`` → ``?***``)."""
    if not query:
        return query
    return "&".join(f"{name}={MASK}" if sep else (MASK if name else name)
                    for name, sep, _value in (item.partition("=") for item in query.split("&")))
