"""Models as the API's JSON objects (the shapes ``openapi.py`` documents)."""

from __future__ import annotations

from flask import g

from ...services.catalog import may_see_rates
from ._core import iso, money


def _rate(value) -> str | None:
    """A rate as the API shows it: null for a caller who is not an admin."""
    return money(value) if may_see_rates(g.get("api_user")) else None


def user_json(user) -> dict:
    return {
        "id": user.id, "username": user.username, "display_name": user.display_name,
        "email": user.email, "role": user.role, "timezone": user.timezone,
    }


def client_json(client) -> dict:
    return {
        "id": client.id, "name": client.name,
        "default_hourly_rate": _rate(client.default_hourly_rate),
        "archived": bool(client.archived), "created_at": iso(client.created_at),
    }


def project_json(project) -> dict:
    return {
        "id": project.id, "name": project.name, "client_id": project.client_id,
        "billable": bool(project.billable), "hourly_rate": _rate(project.hourly_rate),
        "color": project.color, "archived": bool(project.archived),
        "created_at": iso(project.created_at),
    }


def task_json(task) -> dict:
    return {
        "id": task.id, "project_id": task.project_id, "name": task.name, "status": task.status,
        "hourly_rate": _rate(task.hourly_rate), "created_at": iso(task.created_at),
    }


def entry_json(entry) -> dict:
    return {
        "id": entry.id, "user_id": entry.user_id, "project_id": entry.project_id,
        "task_id": entry.task_id, "started_at": iso(entry.started_at),
        "ended_at": iso(entry.ended_at), "duration_seconds": entry.duration_seconds,
        "running": entry.ended_at is None, "notes": entry.notes, "billable": bool(entry.billable),
        "source": entry.source, "tags": [tag.name for tag in entry.tags],
    }


def tag_json(tag) -> dict:
    return {"id": tag.id, "name": tag.name}


def report_json(report, currency: str) -> dict:
    return {
        "start": report.start.isoformat(), "end": report.end.isoformat(),
        "group_by": report.group_by, "timezone": report.timezone, "currency": currency,
        "total_seconds": report.total_seconds, "billable_seconds": report.billable_seconds,
        "billable_amount": _rate(report.amount),  # an amount reveals the rate
        "rows": [
            {
                "key": row.key, "label": row.label, "seconds": row.seconds,
                "billable_seconds": row.billable_seconds, "billable_amount": _rate(row.amount),
                "color": row.color,
            }
            for row in report.rows
        ],
    }
