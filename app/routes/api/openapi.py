"""The OpenAPI 3.1 description of ``/api/v1``, served at ``/api/v1/openapi.json``.

Written by hand next to the views, and kept true by tests: one compares its
paths and methods with the registered routes, and schemathesis checks real
responses against it.
"""

from __future__ import annotations

from flask import current_app, jsonify

from ...services.reports import GROUPINGS
from ._core import bp

_ID = {"type": "integer", "minimum": 1}
_RATE = {"anyOf": [{"type": "number", "minimum": 0}, {"type": "string"}, {"type": "null"}],
         "description": "Hourly rate, e.g. \"85.00\"; at most two decimals."}
_MONEY = {"type": ["string", "null"], "pattern": r"^\d+\.\d{2}$",
          "description": "Money, e.g. \"85.00\"; always null for a token whose user is not an admin."}
_AMOUNT = {**_MONEY, "description": (
    "The exact sum of its entries' amounts, each rounded half up to the cent (docs/api.md, "
    "\"Money: one rounding rule\"); null for a token whose user is not an admin.")}
_GROUP_BY = {"enum": list(GROUPINGS)}
_TIME = {"type": "string", "format": "date-time"}
_TIME_OR_NULL = {"type": ["string", "null"], "format": "date-time"}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _obj(props: dict, required=(), additional: bool = False) -> dict:
    schema = {"type": "object", "properties": props, "additionalProperties": additional}
    if required:
        schema["required"] = list(required)
    return schema


SCHEMAS = {
    "Error": _obj({"error": _obj({
        "code": {"type": "string"}, "message": {"type": "string"}, "field": {"type": "string"},
    }, ["code", "message"])}, ["error"]),
    "User": _obj({
        "id": _ID, "username": {"type": "string"}, "display_name": {"type": ["string", "null"]},
        "email": {"type": ["string", "null"]}, "role": {"enum": ["admin", "user"]},
        "timezone": {"type": "string"},
    }, ["id", "username", "role", "timezone"]),
    "Client": _obj({
        "id": _ID, "name": {"type": "string"}, "default_hourly_rate": _MONEY,
        "archived": {"type": "boolean"}, "created_at": _TIME,
    }, ["id", "name", "default_hourly_rate", "archived", "created_at"]),
    "Project": _obj({
        "id": _ID, "name": {"type": "string"}, "client_id": {"type": ["integer", "null"]},
        "billable": {"type": "boolean"}, "hourly_rate": _MONEY,
        "color": {"type": "string", "pattern": "^#[0-9a-f]{6}$"},
        "archived": {"type": "boolean"}, "created_at": _TIME,
    }, ["id", "name", "client_id", "billable", "hourly_rate", "color", "archived"]),
    "Task": _obj({
        "id": _ID, "project_id": _ID, "name": {"type": "string"},
        "status": {"enum": ["todo", "in_progress", "done"]}, "hourly_rate": _MONEY,
        "created_at": _TIME,
    }, ["id", "project_id", "name", "status", "hourly_rate"]),
    "TimeEntry": _obj({
        "id": _ID, "user_id": _ID, "project_id": _ID, "task_id": {"type": ["integer", "null"]},
        "started_at": _TIME, "ended_at": _TIME_OR_NULL,
        "duration_seconds": {"type": ["integer", "null"], "minimum": 0},
        "running": {"type": "boolean"}, "notes": {"type": ["string", "null"]},
        "billable": {"type": "boolean"}, "source": {"enum": ["timer", "manual"]},
        "tags": {"type": "array", "items": {"type": "string"}},
    }, ["id", "user_id", "project_id", "task_id", "started_at", "ended_at", "duration_seconds",
        "running", "billable", "tags"]),
    "Tag": _obj({"id": _ID, "name": {"type": "string"}}, ["id", "name"]),
    "Report": _obj({
        "start": {"type": "string", "format": "date"}, "end": {"type": "string", "format": "date"},
        "group_by": _GROUP_BY,
        "timezone": {"type": "string", "description": "The zone whose days the report uses."},
        "currency": {"type": "string"},
        "total_seconds": {"type": "integer", "minimum": 0},
        "billable_seconds": {"type": "integer", "minimum": 0},
        "billable_amount": _AMOUNT,
        "rows": {"type": "array", "items": _obj({
            "key": {"type": "string"}, "label": {"type": "string"},
            "seconds": {"type": "integer", "minimum": 0},
            "billable_seconds": {"type": "integer", "minimum": 0},
            "billable_amount": _AMOUNT, "color": {"type": ["string", "null"]},
        }, ["key", "label", "seconds", "billable_seconds", "billable_amount"])},
    }, ["start", "end", "group_by", "timezone", "total_seconds", "billable_seconds",
        "billable_amount", "rows"]),
}
for _name in ("Client", "Project", "Task", "TimeEntry"):
    SCHEMAS[f"{_name}Page"] = _obj({
        "items": {"type": "array", "items": _ref(_name)},
        "page": {"type": "integer", "minimum": 1}, "per_page": {"type": "integer", "minimum": 1},
        "total": {"type": "integer", "minimum": 0}, "pages": {"type": "integer", "minimum": 0},
    }, ["items", "page", "per_page", "total", "pages"])

SCHEMAS["ClientInput"] = _obj({"name": {"type": "string", "minLength": 1, "maxLength": 200},
                               "default_hourly_rate": _RATE, "archived": {"type": "boolean"}},
                              ["name"])
SCHEMAS["ProjectInput"] = _obj({
    "name": {"type": "string", "minLength": 1, "maxLength": 200},
    "client_id": {"type": ["integer", "null"]}, "billable": {"type": "boolean"},
    "hourly_rate": _RATE, "color": {"type": ["string", "null"]}, "archived": {"type": "boolean"},
}, ["name"])
SCHEMAS["TaskInput"] = _obj({
    "project_id": {"type": "integer"}, "name": {"type": "string", "minLength": 1, "maxLength": 200},
    "status": {"enum": ["todo", "in_progress", "done"]}, "hourly_rate": _RATE,
}, ["project_id", "name"])
SCHEMAS["TimeEntryInput"] = _obj({
    "project_id": {"type": "integer"}, "task_id": {"type": ["integer", "null"]},
    "started_at": _TIME, "ended_at": _TIME, "notes": {"type": ["string", "null"]},
    "billable": {"type": "boolean"},
    "confirm_long": {"type": "boolean", "description": "Allow an entry longer than 24 hours."},
    "tags": {"type": "array", "maxItems": 20, "items": {"type": "string", "maxLength": 50},
             "description": "Tag names; a new name creates the tag. On PATCH, replaces the tags."},
}, ["project_id", "started_at", "ended_at"])
SCHEMAS["TimerStart"] = _obj({
    "project_id": {"type": "integer"}, "task_id": {"type": ["integer", "null"]},
    "notes": {"type": ["string", "null"]},
    "switch": {"type": "boolean", "default": False,
               "description": "If a timer runs: stop it and start this one (otherwise 409)."},
}, ["project_id"])


def _patch_of(name: str) -> dict:
    schema = dict(SCHEMAS[name])
    schema.pop("required", None)
    return schema


SCHEMAS["TelemetryInput"] = _obj({
    "detailed_analytics": {"type": "boolean"},
    "catalogue_version": {"type": "string", "description": (
        "The catalogue_version a GET answered, after reading its catalogue_changes: an opt-in "
        "with it accepts that catalogue. Without it an opt-in is refused (409) while an opt-in "
        "for an older catalogue is stored.")},
}, ["detailed_analytics"])
_LAYER = _obj({"enabled": {"type": "boolean"}, "reason": {"type": "string"}}, ["enabled", "reason"])
_TEXT_OR_NULL = {"type": ["string", "null"]}
SCHEMAS["Telemetry"] = _obj({
    "detailed_analytics": {"type": ["boolean", "null"]}, "install_id": _TEXT_OR_NULL,
    "base": _LAYER, "analytics": _LAYER, "changed_by": _TEXT_OR_NULL,
    "changed_at": _TEXT_OR_NULL, "first_seen_sent_at": _TEXT_OR_NULL,
    "last_heartbeat_day": _TEXT_OR_NULL, "catalogue_version": {"type": "string"},
    "consented_catalogue_version": _TEXT_OR_NULL,
    "catalogue_changes": {"type": ["object", "null"],
                          "description": "What the detailed layer sends beyond the opt-in "
                                         "(added/removed events, changed properties); "
                                         "null when there is nothing to accept."},
    "recipient": {"type": "object", "description": "The endpoint (credentials as ***), who runs "
                  "it, retention days and privacy URL as configured."},
    "examples": {"type": "array", "items": {"type": "object"},
                 "description": "An example payload of every detailed event."},
    "next_heartbeat": {"type": "object"},
}, ["detailed_analytics", "install_id", "base", "analytics", "changed_by", "changed_at",
    "first_seen_sent_at", "last_heartbeat_day", "catalogue_version",
    "consented_catalogue_version", "catalogue_changes", "recipient", "examples",
    "next_heartbeat"])
SCHEMAS["ClientPatch"] = _patch_of("ClientInput")
SCHEMAS["ProjectPatch"] = _patch_of("ProjectInput")
SCHEMAS["TaskPatch"] = _obj({k: v for k, v in SCHEMAS["TaskInput"]["properties"].items()
                             if k != "project_id"})
SCHEMAS["TimeEntryPatch"] = _patch_of("TimeEntryInput")
SCHEMAS["TimeEntryPatch"]["properties"] = {**SCHEMAS["TimeEntryInput"]["properties"],
                                           "ended_at": _TIME_OR_NULL}

_ERRORS = {
    "400": "Invalid input (bad query parameter, bad JSON, wrong field)",
    "401": "Missing, unknown, revoked or expired token",
    "403": "The token's user lacks the role for this (e.g. a rate set by a non-admin), or the "
           "token is read-only (code read_only_token) and the method is not GET",
    "404": "No such resource (or not yours)",
    "409": "Conflicts with the current state (duplicate name, timer running, in use)",
    "413": "Body too large",
    "415": "Body is not application/json",
    "422": "The body refers to something that does not exist",
    "503": "The database is unavailable; nothing was changed",
}


def _json(schema: dict) -> dict:
    return {"content": {"application/json": {"schema": schema}}}


def _error_responses(codes) -> dict:
    return {code: {"description": _ERRORS[code], **_json(_ref("Error"))} for code in codes}


def _q(name: str, schema: dict, description: str = "") -> dict:
    param = {"name": name, "in": "query", "required": False, "schema": schema}
    if description:
        param["description"] = description
    return param


def _path_id(name: str) -> dict:
    return {"name": name, "in": "path", "required": True, "schema": _ID}


_PAGE = [_q("page", {"type": "integer", "minimum": 1, "maximum": 1000000}),
         _q("per_page", {"type": "integer", "minimum": 1, "maximum": 100})]
_ARCHIVED = _q("include_archived", {"type": "boolean"}, "Include archived items.")
_FILTERS = [
    _q("start", {"type": "string", "format": "date"}, "First local day (YYYY-MM-DD)."),
    _q("end", {"type": "string", "format": "date"}, "Last local day, inclusive."),
    _q("client_id", _ID), _q("project_id", _ID),
    _q("user_id", _ID, "Admins only (others may pass their own id)."),
    _q("tag_id", _ID, "Only entries carrying this tag."),
]
_REPORT_FILTERS = _FILTERS + [_q("task_id", _ID), _q("billable", {"type": "boolean"})]


def _op(summary: str, ok: str, ok_schema: dict | None, errors, *, params=(), body=None,
        tag: str, public: bool = False) -> dict:
    responses = {ok: {"description": "Success", **(_json(ok_schema) if ok_schema else {})}}
    codes = list(errors) if public else ["401", *errors]
    responses.update(_error_responses(sorted(set(codes))))
    op = {"summary": summary, "tags": [tag], "responses": responses}
    if params:
        op["parameters"] = list(params)
    if body:
        op["requestBody"] = {"required": True, **_json(_ref(body))}
    if public:
        op["security"] = []
    return op


_BODY_ERRORS = ["400", "413", "415"]


def _crud(tag: str, plural: str, model: str, id_name: str, list_params, *, create_errors,
          write_errors, delete_errors) -> dict:
    item = f"/{plural}/{{{id_name}}}"
    return {
        f"/{plural}": {
            "get": _op(f"List {plural}", "200", _ref(f"{model}Page"), ["400"],
                       params=list_params, tag=tag),
            "post": _op(f"Create a {tag.lower()}", "201", _ref(model),
                        _BODY_ERRORS + create_errors, body=f"{model}Input", tag=tag),
        },
        item: {
            "parameters": [_path_id(id_name)],
            "get": _op(f"Get a {tag.lower()}", "200", _ref(model), ["400", "404"], tag=tag),
            "patch": _op(f"Change a {tag.lower()}", "200", _ref(model),
                         _BODY_ERRORS + ["404"] + write_errors, body=f"{model}Patch", tag=tag),
            "delete": _op(f"Delete a {tag.lower()}", "204", None, ["400", "404"] + delete_errors,
                          tag=tag),
        },
    }


def build_spec(version: str) -> dict:
    paths = {
        "/openapi.json": {"get": {
            "summary": "This document", "tags": ["Meta"], "security": [],
            "responses": {"200": {"description": "The OpenAPI document",
                                  **_json({"type": "object"})}},
        }},
        "/me": {"get": _op("The token's user", "200", _ref("User"), [], tag="Account")},
    }
    paths.update(_crud("Client", "clients", "Client", "client_id", [_ARCHIVED, *_PAGE],
                       create_errors=["403", "409", "422"], write_errors=["403", "409", "422"],
                       delete_errors=["403", "409"]))
    paths.update(_crud("Project", "projects", "Project", "project_id",
                       [_ARCHIVED, _q("client_id", _ID), *_PAGE],
                       create_errors=["403", "409", "422"], write_errors=["403", "409", "422"],
                       delete_errors=["403", "409"]))
    paths.update(_crud("Task", "tasks", "Task", "task_id",
                       [_q("project_id", _ID),
                        _q("status", {"enum": ["todo", "in_progress", "done"]}), *_PAGE],
                       create_errors=["403", "409", "422"], write_errors=["403", "409"],
                       delete_errors=["403"]))
    paths.update(_crud("Time entry", "time-entries", "TimeEntry", "entry_id",
                       [*_FILTERS, *_PAGE], create_errors=["422"], write_errors=["422"],
                       delete_errors=[]))
    paths["/time-entries"]["get"]["responses"].update(_error_responses(["403"]))
    paths["/time-entries/export.csv"] = {"get": {
        **_op("Export entries as CSV (streamed)", "200", None, ["400", "403"],
              params=_REPORT_FILTERS, tag="Time entry"),
    }}
    paths["/time-entries/export.csv"]["get"]["responses"]["200"] = {
        "description": ("CSV with a header row; ISO 8601 times with offset in the user's zone; "
                        "each entry's rate and amount (admins only), the amounts summing to "
                        "the report's billable_amount"),
        "content": {"text/csv": {"schema": {"type": "string"}}},
    }
    paths["/tags"] = {"get": _op("All tags", "200", {"type": "array", "items": _ref("Tag")}, [],
                                 tag="Time entry")}
    paths["/timer"] = {"get": _op("The running entry, or null", "200",
                                  {"anyOf": [_ref("TimeEntry"), {"type": "null"}]}, [],
                                  tag="Timer")}
    paths["/timer/start"] = {"post": _op("Start the timer", "201", _ref("TimeEntry"),
                                         _BODY_ERRORS + ["409", "422"], body="TimerStart",
                                         tag="Timer")}
    paths["/timer/stop"] = {"post": _op("Stop the timer", "200", _ref("TimeEntry"), ["404"],
                                        tag="Timer")}
    paths["/reports/summary"] = {"get": _op(
        f"Totals grouped by {', '.join(GROUPINGS[:-1])} or {GROUPINGS[-1]}", "200", _ref("Report"),
        ["400", "403"], tag="Report",
        params=[*_REPORT_FILTERS,
                _q("group_by", _GROUP_BY,
                   "By tag, an entry counts under each of its tags (rows may exceed the total).")],
    )}
    paths["/admin/telemetry"] = {
        "get": _op("Telemetry state and the detailed-analytics choice", "200", _ref("Telemetry"),
                   ["403"], tag="Admin"),
        "put": _op("Set detailed analytics on or off (sets a value, never toggles)", "200",
                   _ref("Telemetry"), _BODY_ERRORS + ["403", "409", "503"], body="TelemetryInput",
                   tag="Admin"),
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "TimeTracker API", "version": version,
            "description": "REST API v1. Authenticate with a personal token: "
                           "`Authorization: Bearer <token>`. Errors are JSON: "
                           '`{"error": {"code": "...", "message": "..."}}`.',
        },
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearerAuth": []}],
        "components": {
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
            "schemas": SCHEMAS,
        },
        "paths": paths,
    }


@bp.get("/openapi.json")
def openapi():
    return jsonify(build_spec(current_app.config["APP_VERSION"]))
