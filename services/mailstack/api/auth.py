"""Bearer-token authentication for /v1/* (the SNS webhook authenticates by signature instead)."""

from __future__ import annotations

import hmac

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from mailstack.api.errors import error_response

PROTECTED_PREFIX = "/v1/"
PUBLIC_PREFIXES = ("/v1/webhooks/",)


def token_matches(presented: str, expected: str) -> bool:
    """Constant-time comparison (on bytes, so any token text is fine)."""
    return hmac.compare_digest(presented.encode("utf-8"), expected.encode("utf-8"))


def bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        return None
    return credentials.strip()


def requires_token(path: str) -> bool:
    return path.startswith(PROTECTED_PREFIX) and not path.startswith(PUBLIC_PREFIXES)


class BearerTokenMiddleware:
    def __init__(self, app: ASGIApp, token: str) -> None:
        self._app = app
        self._token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and requires_token(scope["path"]):
            raw = Headers(scope=scope).getlist("authorization")
            # Starlette decodes header bytes as latin-1; tokens are compared as the UTF-8 bytes sent.
            presented = bearer_token(raw[0].encode("latin-1").decode("utf-8", "replace") if raw else None)
            if presented is None or not token_matches(presented, self._token):
                message = "missing bearer token" if presented is None else "invalid bearer token"
                response = error_response(401, message, headers={"WWW-Authenticate": 'Bearer realm="mailstack"'})
                await response(scope, receive, send)
                return
        await self._app(scope, receive, send)
