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
