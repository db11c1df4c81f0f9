"""Bearer-token auth and the body size limit, on a minimal app wired like the real one."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from mailstack.api.auth import BearerTokenMiddleware, bearer_token, requires_token, token_matches
from mailstack.api.errors import http_exception_handler
from mailstack.api.limits import BodySizeLimitMiddleware
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

TOKEN = "s3cret-token-ä"


async def echo(request: Request) -> JSONResponse:
    body = await request.body()
    return JSONResponse({"path": request.url.path, "bytes": len(body)})


class Client:
    """Calls the ASGI app in-process through httpx (no server, no lifespan)."""

    def __init__(self, app: Starlette) -> None:
        self._app = app

    def request(self, method: str, path: str, **kwargs) -> httpx.Response:
        async def call() -> httpx.Response:
            transport = httpx.ASGITransport(app=self._app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                return await client.request(method, path, **kwargs)

        return asyncio.run(call())

    def get(self, path: str, **kwargs) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs) -> httpx.Response:
        return self.request("POST", path, **kwargs)


@pytest.fixture
def client() -> Client:
    app = Starlette(
        routes=[
            Route("/health", echo),
            Route("/v1/messages/{id}", echo, methods=["GET", "POST"]),
            Route("/v1/webhooks/aws/sns", echo, methods=["POST"]),
        ],
        middleware=[
            Middleware(BearerTokenMiddleware, token=TOKEN),
            Middleware(BodySizeLimitMiddleware, max_bytes=1024),
        ],
        exception_handlers={HTTPException: http_exception_handler},
    )
    return Client(app)


def auth(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_token_comparison():
    assert token_matches("abc", "abc")
    assert not token_matches("abd", "abc")
    assert not token_matches("", "abc")
    assert token_matches("ä", "ä")


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("", None),
        ("Bearer", None),
        ("Bearer   ", None),
        ("Basic abc", None),
        ("Bearer abc", "abc"),
        ("bearer  abc ", "abc"),
    ],
)
def test_bearer_token_parsing(header, expected):
    assert bearer_token(header) == expected


def test_which_paths_need_a_token():
    assert requires_token("/v1/messages/x")
    assert requires_token("/v1/inboxes/a@b/messages")
    assert not requires_token("/v1/webhooks/aws/sns")
    assert not requires_token("/health")


def test_missing_token_is_401_json(client):
    response = client.get("/v1/messages/1")
    assert response.status_code == 401
    assert response.json() == {"error": {"status": 401, "message": "missing bearer token"}}
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_wrong_token_is_401(client):
    response = client.get("/v1/messages/1", headers=auth("nope"))
    assert response.status_code == 401
    assert response.json()["error"]["message"] == "invalid bearer token"


def test_right_token_passes(client):
    response = client.get("/v1/messages/1", headers={"Authorization": f"Bearer {TOKEN}".encode()})
    assert response.status_code == 200


def test_health_and_webhook_need_no_token(client):
    assert client.get("/health").status_code == 200
    assert client.post("/v1/webhooks/aws/sns", content=b"{}").status_code == 200


def test_declared_body_over_the_limit_is_413(client):
    response = client.post("/v1/webhooks/aws/sns", content=b"x" * 2048)
    assert response.status_code == 413
    assert response.json()["error"]["status"] == 413


def test_streamed_body_over_the_limit_is_413(client):
    async def chunks():
        for _ in range(4):
            yield b"x" * 512

    response = client.post("/v1/webhooks/aws/sns", content=chunks())
    assert response.status_code == 413


def test_body_under_the_limit_passes(client):
    assert client.post("/v1/webhooks/aws/sns", content=b"x" * 1000).json()["bytes"] == 1000
