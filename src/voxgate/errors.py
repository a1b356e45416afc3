"""Domain errors. Each carries a stable ``error_id``; no HTTP knowledge lives here.

The API layer maps these onto each dialect's envelope in one place (``api/errors.py``).
"""

from __future__ import annotations

from typing import Any


class VoxgateError(Exception):
    """Something went wrong in voxgate."""

    error_id = "internal_error"

    def __init__(self, message: str | None = None, **details: Any) -> None:
        self.message = message or (self.__doc__ or self.error_id).strip()
        self.details = details
        super().__init__(self.message)


class ConfigurationError(VoxgateError):
    """The configuration is invalid."""

    error_id = "bad_configuration"


class NotFound(VoxgateError):
    """The resource does not exist."""

    error_id = "not_found"


class Conflict(VoxgateError):
    """The request conflicts with the current state."""

    error_id = "conflict"


class InvalidInput(VoxgateError):
    """The request is invalid."""

    error_id = "invalid_input"

    def __init__(self, message: str | None = None, *, field: str | None = None, **details: Any):
        super().__init__(message, field=field, **details)
        self.field = field


class Unauthorized(VoxgateError):
    """The credentials are missing, wrong or expired."""

    error_id = "unauthorized"


class Forbidden(VoxgateError):
    """The caller may not do this."""

    error_id = "forbidden"
