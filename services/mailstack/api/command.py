"""`mailstack api`: serve the app with uvicorn on $BIND_HOST:$PORT."""

from __future__ import annotations

import uvicorn

from mailstack.api.app import create_app
from mailstack.config import ApiSettings

# Idle keep-alive connections from the load balancer stay open longer than its idle timeout (60 s). If the
# API closed them first (uvicorn's default is 5 s), a request the ALB sends as the API closes the connection
# fails with a 502; AWS asks targets to keep connections open longer than the load balancer does.
KEEPALIVE_TIMEOUT_SECONDS = 75


def run_api(settings: ApiSettings) -> int:
    uvicorn.run(
        create_app(settings),
        host=settings.bind_host,
        port=settings.port,
        log_config=None,
        server_header=False,
        proxy_headers=True,
        timeout_graceful_shutdown=20,
        timeout_keep_alive=KEEPALIVE_TIMEOUT_SECONDS,
    )
    return 0
