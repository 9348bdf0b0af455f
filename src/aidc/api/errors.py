"""Every error as JSON that names the field: service errors, validation, and the rest."""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from aidc.core.validation import field_errors
from aidc.schemas import ErrorBody, ErrorField
from aidc.services.errors import (
    Conflict,
    Forbidden,
    Gone,
    Invalid,
    NotFound,
    ServiceError,
    TooMany,
    Unauthenticated,
)

log = logging.getLogger("aidc.api")

STATUS = {
    NotFound: 404,
    Forbidden: 403,
    Unauthenticated: 401,
    Invalid: 422,
    Conflict: 409,
    Gone: 410,
    TooMany: 429,
}


def json_errors(codes: Iterable[int | str]) -> dict[int | str, dict[str, object]]:
    """Error responses declared as JSON ``ErrorBody`` for routes whose success is not JSON
    (logs, CSV, HTML): ``"model"`` would document them in the route's own media type."""
    ref = {"$ref": "#/components/schemas/ErrorBody"}
    return {s: {"content": {"application/json": {"schema": ref}}} for s in codes}


def error_response(
    status: int, code: str, message: str, fields: list[tuple[str, str]] | None = None
) -> JSONResponse:
    body = ErrorBody(
        error=code,
        message=message,
        fields=[ErrorField(field=f, message=m) for f, m in fields or []],
    )
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body.model_dump(), status_code=status, headers=headers)


def install(app: FastAPI) -> None:
    @app.exception_handler(ServiceError)
    async def _service(_: Request, e: ServiceError) -> JSONResponse:
        status = STATUS.get(type(e), 400)
        response = error_response(status, e.code, e.message, e.fields)
        if isinstance(e, TooMany) and e.retry_after_s is not None:
            response.headers["Retry-After"] = str(math.ceil(e.retry_after_s))
        return response

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, e: RequestValidationError) -> JSONResponse:
        errors = e.errors()
        # Body fields lose their "body" prefix; query and path keep "query."/"path." off too.
        fields = field_errors(errors, skip=1)
        message = "; ".join(f"{f}: {m}" for f, m in fields)
        return error_response(422, "invalid", message, fields)

    @app.exception_handler(HTTPException)
    async def _http(_: Request, e: HTTPException) -> JSONResponse:
        return error_response(e.status_code, "http_error", str(e.detail))

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, e: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return error_response(500, "internal", "internal error; the operators have the details")
