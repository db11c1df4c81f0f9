"""The Starlette application."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from botocore.client import BaseClient
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.routing import Route

from mailstack.api.auth import BearerTokenMiddleware
from mailstack.api.context import ApiContext
from mailstack.api.errors import http_exception_handler, unhandled_exception_handler
from mailstack.api.health import health
from mailstack.api.limits import BodySizeLimitMiddleware
from mailstack.api.messages import get_attachment, get_message, get_raw_message, list_inbox_messages
from mailstack.api.webhooks import sns_webhook
from mailstack.aws import s3_client
from mailstack.config import ApiSettings
from mailstack.db import async_pool
from mailstack.sns.certificates import CertificateStore
from mailstack.sns.signature import SnsSignatureVerifier

ROUTES = [
    Route("/health", health, methods=["GET"]),
    Route("/v1/inboxes/{address}/messages", list_inbox_messages, methods=["GET"]),
    Route("/v1/messages/{message_id}", get_message, methods=["GET"]),
    Route("/v1/messages/{message_id}/raw", get_raw_message, methods=["GET"]),
    Route("/v1/messages/{message_id}/attachments/{attachment_id}", get_attachment, methods=["GET"]),
    Route("/v1/webhooks/aws/sns", sns_webhook, methods=["POST"]),
]


def create_app(
    settings: ApiSettings,
    s3: BaseClient | None = None,
    certificates: CertificateStore | None = None,
) -> Starlette:
    context = ApiContext(
        settings=settings,
        pool=async_pool(settings.database),
        s3=s3 or s3_client(settings.common.region, max_pool_connections=20),
        sns_verifier=SnsSignatureVerifier(settings.sns_trusted_cert_url_pattern, certificates),
        http=httpx.AsyncClient(follow_redirects=False),
    )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await context.pool.open(wait=False)
        try:
            yield
        finally:
            await context.pool.close()
            await context.http.aclose()

    app = Starlette(
        routes=ROUTES,
        middleware=[
            Middleware(BearerTokenMiddleware, token=settings.api_token),
            Middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes),
        ],
        exception_handlers={HTTPException: http_exception_handler, Exception: unhandled_exception_handler},
        lifespan=lifespan,
    )
    app.state.context = context
    return app
