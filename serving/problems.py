"""Errors as ``application/problem+json`` (RFC 9457): a type, a title, the status, a detail
that says what to change, and the request path as ``instance``. Never a stack trace."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from serving.lookups import NotFound, Unavailable
from serving.new_users import InvalidNewUser, ScorerUnavailable

logger = logging.getLogger(__name__)

PROBLEM_TYPE = "application/problem+json"
_TITLES = {
    400: "Bad request",
    401: "Missing or unknown API key",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    413: "Request too large",
    422: "Invalid request",
    500: "Internal error",
    503: "Service unavailable",
}


def problem(status: int, detail: str, instance: str, **extra: Any) -> JSONResponse:
    """One problem document."""
    body = {
        "type": "about:blank",
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "instance": instance,
        **extra,
    }
    headers = {"Retry-After": "5"} if status == 503 else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM_TYPE, headers=headers)


#: the lookups' domain errors and the status each one answers
DOMAIN_STATUS: dict[type[Exception], int] = {
    NotFound: 404,
    InvalidNewUser: 422,
    Unavailable: 503,
    ScorerUnavailable: 503,
}


def _domain_handler(status: int) -> Callable[[Request, Exception], Awaitable[JSONResponse]]:
    """A handler answering one domain error with ``status`` and the error's message."""

    async def handle(request: Request, exc: Exception) -> JSONResponse:
        return problem(status, str(exc), request.url.path)

    return handle


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error into a problem document."""

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        return problem(exc.status_code, str(exc.detail), request.url.path)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        detail = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors)
        return problem(422, detail, request.url.path, errors=errors)

    for error, status in DOMAIN_STATUS.items():
        app.add_exception_handler(error, _domain_handler(status))

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unhandled error on %s", request.url.path)
        return problem(500, "internal error; see the service log", request.url.path)
