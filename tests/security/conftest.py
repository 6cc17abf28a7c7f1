"""Fixtures for the hardening tests (issue 13): the API client helpers of tests/api."""

from tests.api.conftest import ApiClient, admin_api, make_token, user_api  # noqa: F401

__all__ = ["ApiClient"]
