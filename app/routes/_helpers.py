"""Helpers the blueprints share: service errors as form messages, redirect targets."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import flash
from flask_wtf import FlaskForm
from wtforms import SelectChoice

from ..services.errors import ServiceError

# The status of a web form re-rendered with its errors (bad input, wrong password):
# 200, so a browser treats it as the ordinary page it is and its console logs no
# "Failed to load resource". The error is in the page (next to the field, or a
# flash), and nothing was written. Refusals that are not the user's typing keep
# their 4xx: a missing or expired CSRF token (400), no permission (403), unknown
# ids (404). The JSON API is unaffected and answers 400/422. docs/development.md.
FORM_INVALID = 200


def attach_error(form: FlaskForm, exc: ServiceError) -> None:
    """Show a service error next to its field, or as a flash when it has none."""
    field = getattr(form, exc.field, None) if exc.field else None
    if field is not None and hasattr(field, "errors"):
        if isinstance(field.errors, tuple):
            field.errors = list(field.errors)
        field.errors.append(exc.message)
    else:
        flash(exc.message, "error")


def safe_next(target: str | None, under: str = "/") -> str | None:
    """``target`` when it is a same-site path under ``under``, else None (the caller's default).

    The one check of every ``next`` in the app (sign-in, the theme button, entry edit
    and delete). Refused: any control character or whitespace (a CR/LF would put a
    new line in the Location header: a 500, or a header injected), a backslash
    (browsers read "/\\host" as "//host"), a scheme or host, "//" anywhere.
    """
    if not target or not isinstance(target, str):
        return None
    if any(ch.isspace() or not ch.isprintable() or ch == "\\" for ch in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or "//" in target or not target.startswith(under):
        return None
    return target


def options(pairs, none_label: str | None = None) -> list[SelectChoice]:
    """(value, label) pairs as WTForms choices, optionally led by a "none" option (0)."""
    choices = [SelectChoice(0, none_label)] if none_label else []
    return choices + [SelectChoice(value, label) for value, label in pairs]


def project_choices(projects, with_none: str | None = None) -> list[SelectChoice]:
    return options(
        (
            (p.id, p.name if p.client is None else f"{p.name} · {p.client.name}")
            for p in projects
        ),
        with_none,
    )


def task_choices(projects) -> list[SelectChoice]:
    """Open tasks grouped by project, after a "no task" option."""
    choices = [SelectChoice(0, "— no task —")]
    for project in projects:
        for task in project.tasks:
            if task.status != "done":
                choices.append(SelectChoice(task.id, task.name, optgroup=project.name))
    return choices


def task_project_map(projects) -> dict[int, int]:
    """task id → project id, for the small script that filters the task menu."""
    return {task.id: project.id for project in projects for task in project.tasks}


def project_billable_map(projects) -> dict[int, bool]:
    """project id → billable, so the entry form can say what "As the project" means."""
    return {project.id: bool(project.billable) for project in projects}
