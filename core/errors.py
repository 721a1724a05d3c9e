"""Domain errors. Services raise these; one API handler and the pages map them.

invalid -> 400, not found or not yours -> 404, not allowed -> 403,
wrong state -> 409, over a limit -> 429, a part of the service away -> 503.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    status_code = 400
    default_code = "invalid"

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        row: int | None = None,
        code: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.row = row
        self.code = code or self.default_code
        self.extra = extra or {}


class ValidationFailed(DomainError):
    status_code = 400


class NotFound(DomainError):
    status_code = 404
    default_code = "not_found"


class Conflict(DomainError):
    status_code = 409
    default_code = "conflict"


class NotAllowed(DomainError):
    """The object is visible to the user, but this action is someone else's."""

    status_code = 403
    default_code = "forbidden"


class LimitReached(DomainError):
    """One account asked for more than its share (disputes a day, open ones)."""

    status_code = 429
    default_code = "limit_reached"


class Unavailable(DomainError):
    """A part the request needs is away (the queue); nothing was done."""

    status_code = 503
    default_code = "unavailable"
    retry_after = 30
