"""Helpers the blueprints share: turning service errors into form messages."""

from __future__ import annotations

from flask import flash
from flask_wtf import FlaskForm

from ..services.errors import ServiceError


def attach_error(form: FlaskForm, exc: ServiceError) -> None:
    """Show a service error next to its field, or as a flash when it has none."""
    field = getattr(form, exc.field, None) if exc.field else None
    if field is not None and hasattr(field, "errors"):
        if isinstance(field.errors, tuple):
            field.errors = list(field.errors)
        field.errors.append(exc.message)
    else:
        flash(exc.message, "error")


def project_choices(projects, with_none: str | None = None):
    choices = [(0, with_none)] if with_none else []
    for project in projects:
        label = project.name if project.client is None else f"{project.name} · {project.client.name}"
        choices.append((project.id, label))
    return choices


def task_choices(projects):
    choices = [(0, "— no task —")]
    for project in projects:
        for task in project.tasks:
            if task.status != "done":
                choices.append((task.id, task.name))
    return choices


def task_project_map(projects) -> dict[int, int]:
    """task id → project id, for the small script that filters the task menu."""
    return {task.id: project.id for project in projects for task in project.tasks}
