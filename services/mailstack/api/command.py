"""`mailstack api`: serve the app with uvicorn on $BIND_HOST:$PORT."""

from __future__ import annotations

import uvicorn

from mailstack.api.app import create_app
from mailstack.config import ApiSettings


def run_api(settings: ApiSettings) -> int:
    uvicorn.run(
        create_app(settings),
        host=settings.bind_host,
        port=settings.port,
        log_config=None,
        server_header=False,
        proxy_headers=True,
        timeout_graceful_shutdown=20,
    )
    return 0
