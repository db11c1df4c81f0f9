"""Every error is JSON: `{"error": {"status": 404, "message": "..."}}`."""

from __future__ import annotations

import logging
from http import HTTPStatus

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

logger = logging.getLogger(__name__)


def error_response(status: int, message: str | None = None, headers: dict[str, str] | None = None) -> JSONResponse:
    text = message or HTTPStatus(status).phrase
    return JSONResponse({"error": {"status": status, "message": text}}, status_code=status, headers=headers)


async def http_exception_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return error_response(exc.status_code, exc.detail, dict(exc.headers or {}))


async def unhandled_exception_handler(request: Request, exc: Exception) -> Response:
    logger.error(
        "unhandled error",
        exc_info=exc,
        extra={"method": request.method, "path": request.url.path},
    )
    return error_response(500, "internal server error")
