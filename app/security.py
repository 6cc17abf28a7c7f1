"""Response headers that make the browser refuse what the app never does.

Every script and stylesheet is served by the app itself, so the policy can
forbid all third-party origins and inline scripts outright. Inline *style
attributes* stay allowed: project colours are rendered as ``style="..."``.
"""

from __future__ import annotations

from flask import Flask, current_app, g, request

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "object-src 'none'",
])

HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


# Browsers remember HSTS for a year once they saw it over HTTPS. No includeSubDomains:
# other services on sibling hosts are not ours to force onto HTTPS.
HSTS = "max-age=31536000"


def _is_signed_in() -> bool:
    # The user Flask-Login loaded for this request, if any: no query of its own.
    user = g.get("_login_user")
    return user is not None and not getattr(user, "is_anonymous", True)


def init_app(app: Flask) -> None:
    @app.after_request
    def add_security_headers(response):
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        # Pages of a signed-in user and every API answer hold someone's data: no shared
        # or browser cache keeps them (the back button after sign-out shows nothing).
        # Static files keep their own caching.
        if request.endpoint != "static" and (
                request.path.startswith("/api/") or _is_signed_in()):
            response.headers["Cache-Control"] = "no-store"
        if current_app.config.get("SESSION_COOKIE_SECURE"):
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        return response
