"""Domain errors raised by services; routes turn them into flashes or JSON errors."""

from __future__ import annotations


class ServiceError(Exception):
    """Base class: ``message`` is safe to show to the user who caused it."""

    code = "error"

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class ValidationError(ServiceError):
    code = "validation_error"


class NotFound(ServiceError):
    code = "not_found"


class Forbidden(ServiceError):
    code = "forbidden"


class Conflict(ServiceError):
    code = "conflict"


def commit_or_conflict(message: str, field: str | None = None) -> None:
    """Commit; a unique-constraint race lost to another request becomes a Conflict."""
    from sqlalchemy.exc import IntegrityError

    from ..extensions import db

    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise Conflict(message, field) from None
