"""REST API v1 under ``/api/v1``: JSON only, personal-token auth, no cookies or CSRF."""

from . import catalog, entries, openapi, telemetry  # noqa: F401  (each module adds its routes to bp)
from ._core import app_level_error, bp, json_error

__all__ = ["app_level_error", "bp", "json_error"]
