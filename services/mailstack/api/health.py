"""GET /health: 200 only when the database answers."""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import JSONResponse

from mailstack.api.context import api_context

logger = logging.getLogger(__name__)

DATABASE_TIMEOUT_SECONDS = 2.0


async def health(request: Request) -> JSONResponse:
    pool = api_context(request).pool
    try:
        async with pool.connection(timeout=DATABASE_TIMEOUT_SECONDS) as conn:
            await conn.execute("SELECT 1")
    except Exception as exc:
        logger.warning("health check: database unavailable", extra={"reason": f"{type(exc).__name__}: {exc}"})
        return JSONResponse({"status": "unavailable", "database": "unreachable"}, status_code=503)
    return JSONResponse({"status": "ok"})
