"""One error family and one JSON shape for every error the API returns.

Shape: {"error": {"code": str, "message": str, "details": [...] | null}}
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from services.observability.metrics import count_backend_error
from storage.database import UnstorableText, is_database_outage

logger = logging.getLogger(__name__)


class AppError(Exception):
    status_code: int = 400
    code: str = "bad_request"

    def __init__(
        self,
        message: str,
        status_code: int | None = None,
        *,
        code: str | None = None,
        details: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if status_code is not None:
            self.status_code = status_code
        if code is not None:
            self.code = code
        self.details = details
        self.headers = headers


class NotFound(AppError):
    status_code = 404
    code = "not_found"


class Conflict(AppError):
    status_code = 409
    code = "conflict"


class Forbidden(AppError):
    status_code = 403
    code = "forbidden"


class Unauthorized(AppError):
    status_code = 401
    code = "unauthorized"

    def __init__(self, message: str = "Not authenticated") -> None:
        super().__init__(message, headers={"WWW-Authenticate": "Bearer"})


class PayloadTooLarge(AppError):
    status_code = 413
    code = "payload_too_large"


class ServiceUnavailable(AppError):
    status_code = 503
    code = "service_unavailable"


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    416: "range_not_satisfiable",
    422: "invalid_payload",
    429: "too_many_requests",
}


def error_body(code: str, message: str, details: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details}}


def _json_safe_validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    # Validation errors may carry the offending input (bytes, exceptions); keep only what is printable.
    return [
        {"loc": list(err.get("loc", ())), "msg": str(err.get("msg", "")), "type": str(err.get("type", ""))}
        for err in exc.errors()
    ]


# Given the request, the status, the error code and message: an HTML error page for requests of the
# web pages, or None for the JSON shape (everything under the API stays JSON).
ErrorPageRenderer = Callable[[Request, int, str, str], Response | None]


def install_error_handlers(app: FastAPI, error_page: ErrorPageRenderer | None = None) -> None:
    def respond(
        request: Request,
        status_code: int,
        code: str,
        message: str,
        details: list[dict[str, Any]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        page = error_page(request, status_code, code, message) if error_page is not None else None
        if page is not None:
            return page
        return JSONResponse(error_body(code, message, details), status_code=status_code, headers=headers)

    @app.exception_handler(AppError)
    async def handle_app_error(request: Request, exc: AppError) -> Response:
        if exc.status_code == 503:
            count_backend_error(exc.__cause__ or exc)
        return respond(request, exc.status_code, exc.code, exc.message, exc.details, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def handle_validation_error(request: Request, exc: RequestValidationError) -> Response:
        details = _json_safe_validation_errors(exc)
        return respond(request, 422, "invalid_payload", "The request is invalid", details)

    @app.exception_handler(StarletteHTTPException)
    async def handle_http_error(request: Request, exc: StarletteHTTPException) -> Response:
        code = _HTTP_CODES.get(exc.status_code, "error")
        return respond(request, exc.status_code, code, str(exc.detail), headers=exc.headers)

    @app.exception_handler(UnstorableText)
    async def handle_unstorable_text(request: Request, exc: UnstorableText) -> Response:
        return respond(request, 422, "invalid_payload", str(exc))

    async def handle_backend_error(request: Request, exc: Exception) -> Response:
        # Registered for these classes (not only caught by the catch-all below) so that Starlette's
        # exception middleware answers: the catch-all re-raises, and uvicorn then drops the connection.
        if is_database_outage(exc):
            count_backend_error(exc)
            logger.warning("database unavailable: %s: %s", type(exc).__name__, exc)
            return respond(
                request,
                503,
                "service_unavailable",
                "The database is unavailable, try again shortly",
                headers={"Retry-After": "5"},
            )
        logger.exception("unhandled error", exc_info=exc)
        return respond(request, 500, "internal_error", "Internal server error")

    # OSError covers ConnectionError and TimeoutError (raw from the driver when it can't connect).
    for kind in (SQLAlchemyError, OSError):
        app.add_exception_handler(kind, handle_backend_error)

    @app.exception_handler(Exception)
    async def handle_unexpected(request: Request, exc: Exception) -> Response:
        logger.exception("unhandled error", exc_info=exc)
        # Answered outside every middleware (Starlette's server-error layer), so the header the
        # security-headers middleware adds everywhere else is set here.
        nosniff = {"X-Content-Type-Options": "nosniff"}
        return respond(request, 500, "internal_error", "Internal server error", headers=nosniff)
