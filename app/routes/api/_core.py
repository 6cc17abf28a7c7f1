"""The API blueprint's plumbing: token auth, JSON errors, input parsing, pagination.

Everything under ``/api/v1`` answers JSON, errors included:
``{"error": {"code": "...", "message": "..."}}`` (plus ``"field"`` when one
input is to blame). There is no cookie session and no CSRF here: a request is
authenticated by its ``Authorization: Bearer <token>`` header alone.
"""

from __future__ import annotations

import json
from datetime import date, datetime

from flask import Blueprint, current_app, g, jsonify, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed, RequestEntityTooLarge

from ...extensions import csrf, db
from ...services import api_tokens
from ...services.errors import Forbidden, NotFound, ServiceError, ValidationError
from ...services.validation import check_day

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)

# Endpoints that need no token: the API's own description.
PUBLIC_ENDPOINTS = {"api.openapi"}
MAX_PER_PAGE = 100
DEFAULT_PER_PAGE = 50
# Used when MAX_CONTENT_LENGTH is unset: API bodies are small JSON objects.
MAX_BODY_BYTES = 1024 * 1024

HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "unprocessable",
    429: "too_many_requests",
    500: "internal_error",
    503: "unavailable",
}
HTTP_MESSAGES = {
    400: "The request could not be understood.",
    401: "A valid API token is required (Authorization: Bearer <token>).",
    403: "Your role does not allow this.",
    404: "There is nothing at this address.",
    405: "This address does not accept that method.",
    413: "The request body is larger than this server accepts.",
    415: "Send the body as application/json.",
    500: "An unexpected error occurred; it has been logged.",
    503: "TimeTracker is not set up yet: finish the setup wizard first.",
}


class ApiError(Exception):
    """An error a view raises to answer with a given status and code."""

    def __init__(self, status: int, message: str, code: str | None = None,
                 field: str | None = None):
        super().__init__(message)
        self.status, self.message, self.field = status, message, field
        self.code = code or HTTP_CODES.get(status, "error")


def json_error(status: int, message: str | None = None, code: str | None = None,
               field: str | None = None, headers: dict | None = None):
    """The one shape of every API error response."""
    body = {"code": code or HTTP_CODES.get(status, "error"),
            "message": message or HTTP_MESSAGES.get(status, "Request failed.")}
    if field:
        body["field"] = field
    response = jsonify(error=body)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def http_exception_response(exc: HTTPException):
    headers = {}
    if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
        headers["Allow"] = ", ".join(sorted(exc.valid_methods))
    status = exc.code or 500
    message = HTTP_MESSAGES.get(status) or (exc.description if status < 500 else None)
    return json_error(status, message, headers=headers)


@bp.errorhandler(ApiError)
def _api_error(exc: ApiError):
    headers = {"WWW-Authenticate": 'Bearer realm="api"'} if exc.status == 401 else None
    return json_error(exc.status, exc.message, exc.code, exc.field, headers)


@bp.errorhandler(ServiceError)
def _service_error(exc: ServiceError):
    db.session.rollback()
    if isinstance(exc, ValidationError):
        status = 400
    elif isinstance(exc, Forbidden):
        status = 403
    elif isinstance(exc, NotFound):
        # An id in the body that points nowhere makes the request unprocessable;
        # the address itself exists, so 404 would mislead.
        status = 422 if exc.field and exc.field in g.get("api_body_fields", ()) else 404
    else:
        status = 409
    return json_error(status, exc.message, exc.code, exc.field)


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    return http_exception_response(exc)


def _options_response():
    """``OPTIONS`` on an API address: JSON naming the methods it takes (no token needed:
    the OpenAPI document says as much). Flask's automatic answer was an empty HTML page."""
    methods = sorted(request.url_rule.methods) if request.url_rule is not None else []
    response = jsonify(methods=methods)
    response.headers["Allow"] = ", ".join(methods)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.before_request
def authenticate_token():
    """Resolve the bearer token to a user; no cookie session is consulted."""
    if request.method == "OPTIONS":
        return _options_response()
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise ApiError(401, "Send an API token: Authorization: Bearer <token>.", "missing_token")
    token = api_tokens.authenticate(secret.strip())
    if token is None:
        raise ApiError(401, "The API token is unknown, revoked, expired, or its user is "
                            "deactivated.", "invalid_token")
    if not api_tokens.allows(token, request.method):
        raise ApiError(403, "This token is read-only.", "read_only_token")
    user = token.user
    g.api_user = user
    # Flask-Login reads g._login_user first: code that looks at current_user
    # (logging, metrics) sees the token's user without any session cookie.
    g._login_user = user
    return None


def api_user():
    return g.api_user


def require_admin() -> None:
    if not g.api_user.is_admin:
        raise ApiError(403, "Only admins may do this.", "forbidden")


# -- input -----------------------------------------------------------------------

# Field specs: name -> (kind, required). Kinds: "string", "string?" (nullable),
# "integer", "integer?", "boolean", "rate?" (number, numeric string or null),
# "datetime", "datetime?", "strings" (a list of strings).
_KINDS = {
    "string": (str,),
    "integer": (int,),
    "boolean": (bool,),
    "rate": (int, float, str),
    "datetime": (str,),
    "strings": (list,),
}


def json_body(spec: dict[str, tuple[str, bool]]) -> dict:
    """The request's JSON object, checked against ``spec``; unknown fields are refused."""
    if not request.is_json:
        raise ApiError(415, "Send the body as application/json.", "unsupported_media_type")
    limit = current_app.config.get("MAX_CONTENT_LENGTH") or MAX_BODY_BYTES
    if (request.content_length or 0) > limit:
        raise RequestEntityTooLarge()
    try:
        data = json.loads(request.get_data(cache=True))
    except ValueError:  # includes UnicodeDecodeError
        raise ApiError(400, "The body is not valid JSON.", "invalid_json") from None
    except RecursionError:  # "[[[[...": 100,000 levels deep
        raise ApiError(400, "The body is nested too deeply.", "invalid_json") from None
    if not isinstance(data, dict):
        raise ApiError(400, "The body must be a JSON object.", "invalid_json")
    for name, value in data.items():
        # "\ud800" is valid JSON but no text: the database could not store it. Inside a
        # list or an object too ("tags": ["\ud800"]), and in a field's name.
        if not _is_encodable(name) or not _all_text_encodable(value):
            field = name if _is_encodable(name) else None
            raise ApiError(400, f"{field or 'A field name'} is not valid Unicode text.",
                           "validation_error", field)
    unknown = sorted(set(data) - set(spec))
    if unknown:
        raise ApiError(400, f"Unknown field: {unknown[0]}.", "validation_error", unknown[0])
    for name, (kind, required) in spec.items():
        if name not in data:
            if required:
                raise ApiError(400, f"{name} is required.", "validation_error", name)
            continue
        value = data[name]
        nullable = kind.endswith("?")
        base = kind.rstrip("?")
        if value is None:
            if not nullable:
                raise ApiError(400, f"{name} must not be null.", "validation_error", name)
            continue
        # bool is an int in Python; JSON true is not an id.
        if isinstance(value, bool) and base != "boolean":
            raise ApiError(400, f"{name} has the wrong type.", "validation_error", name)
        if not isinstance(value, _KINDS[base]):
            raise ApiError(400, f"{name} has the wrong type.", "validation_error", name)
        if base == "datetime":
            data[name] = parse_datetime(value, name)
        if base == "strings" and not all(isinstance(item, str) for item in value):
            raise ApiError(400, f"{name} must be a list of strings.", "validation_error", name)
    g.api_body_fields = set(data)
    return data


def _all_text_encodable(value) -> bool:
    """True when every string in ``value`` (lists and objects walked, keys included)
    encodes as UTF-8. A loop, not recursion: json.loads accepts deeper nesting than
    Python's recursion limit."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if not _is_encodable(item):
                return False
        elif isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
    return True


def _is_encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate
        return False
    return True


def parse_datetime(value: str, name: str) -> datetime:
    """ISO 8601; a time without offset is read in the user's zone by the services.

    The range (years 1970-2999, before and after the time-zone conversion) is the
    services' check, shared with the web forms: :func:`app.services.validation.to_utc`.
    """
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise ApiError(400, f"{name} must be an ISO 8601 date-time.", "validation_error",
                       name) from None


def query_arg(name: str, parse, default=None):
    """The query parameter ``name`` through ``parse``; absent → ``default``.

    ``parse`` raises ValueError with the rest of the sentence ("must be ..."), which
    becomes a 400 naming the parameter. An empty value is a mistake, not "absent".
    """
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        return parse(raw)
    except ValueError as exc:
        raise ApiError(400, f"{name} {exc}", "validation_error", name) from None


def int_arg(name: str, default: int | None = None, minimum: int = 1,
            maximum: int = 2**31 - 1) -> int | None:
    def parse(raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise ValueError("must be an integer.") from None
        if not minimum <= value <= maximum:
            raise ValueError(f"must be between {minimum} and {maximum}.")
        return value

    return query_arg(name, parse, default)


def _parse_date(raw: str) -> date:
    try:
        value = date.fromisoformat(raw)
    except ValueError:
        raise ValueError("must be a date (YYYY-MM-DD).") from None
    try:
        return check_day(value, "date")  # the services' range, shared with the web
    except ValidationError as exc:
        raise ValueError(exc.message.removeprefix("date ")) from None


def _parse_bool(raw: str) -> bool:
    if raw.lower() in {"true", "1", "yes"}:
        return True
    if raw.lower() in {"false", "0", "no"}:
        return False
    raise ValueError("must be true or false.")


def date_arg(name: str) -> date | None:
    return query_arg(name, _parse_date)


def bool_arg(name: str) -> bool | None:
    return query_arg(name, _parse_bool)


def paginate(query):
    """A page of ``query`` as ``{"items", "page", "per_page", "total", "pages"}`` parts."""
    page = int_arg("page", 1, maximum=1_000_000)
    per_page = int_arg("per_page", DEFAULT_PER_PAGE, maximum=MAX_PER_PAGE)
    return db.paginate(query, page=page, per_page=per_page, error_out=False, count=True)


def page_body(pagination, serialize) -> dict:
    return {
        "items": [serialize(item) for item in pagination.items],
        "page": pagination.page,
        "per_page": pagination.per_page,
        "total": pagination.total,
        "pages": pagination.pages,
    }


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def money(value) -> str | None:
    return None if value is None else f"{value:.2f}"


def app_level_error(status: int):
    """The JSON answer for an ``/api/`` error that reached the app's handlers.

    Routing errors (404, 405) happen before any blueprint is known, so the
    app-wide error pages hand API paths over to this function.
    """
    exc = request.routing_exception
    if isinstance(exc, HTTPException) and exc.code == status:
        return http_exception_response(exc)
    return json_error(status)
