"""Errors services raise; transports turn them into HTTP statuses and CLI exit codes."""

from __future__ import annotations

from collections.abc import Sequence


class ServiceError(Exception):
    code = "error"

    def __init__(
        self,
        message: str,
        field: str | None = None,
        fields: Sequence[tuple[str, str]] = (),
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        # Every (field, message) at fault; one input (a policy file) can have several.
        self.fields = list(fields) or ([(field, message)] if field else [])


class NotFound(ServiceError):
    """Also what a caller gets for another tenant's object: absence and denial look alike."""

    code = "not_found"


class Forbidden(ServiceError):
    code = "forbidden"


class Unauthenticated(ServiceError):
    code = "unauthenticated"


class Invalid(ServiceError):
    """A request that names a field wrongly or asks the impossible."""

    code = "invalid"


class Conflict(ServiceError):
    code = "conflict"


class Gone(ServiceError):
    """It was there and was dropped for good (an upload that expired)."""

    code = "gone"


class TooMany(ServiceError):
    """A limit on how much or how often: queued jobs per user, sign-in attempts.
    ``retry_after_s``: when trying again makes sense (an HTTP ``Retry-After``)."""

    code = "too_many"

    def __init__(
        self, message: str, field: str | None = None, *, retry_after_s: float | None = None
    ) -> None:
        super().__init__(message, field)
        self.retry_after_s = retry_after_s
