"""What request handlers share: settings, the database pool and AWS/HTTP clients."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from botocore.client import BaseClient
from psycopg_pool import AsyncConnectionPool
from starlette.requests import Request

from mailstack.config import ApiSettings
from mailstack.sns.signature import SnsSignatureVerifier


@dataclass
class ApiContext:
    settings: ApiSettings
    pool: AsyncConnectionPool
    s3: BaseClient
    sns_verifier: SnsSignatureVerifier
    http: httpx.AsyncClient


def api_context(request: Request) -> ApiContext:
    context = request.app.state.context
    assert isinstance(context, ApiContext)
    return context
