"""`mailstack api`: serve the app with uvicorn on $PORT."""

from __future__ import annotations

import uvicorn

from mailstack.api.app import create_app
from mailstack.config import ApiSettings


def run_api(settings: ApiSettings) -> int:
    uvicorn.run(
        create_app(settings),
        host="0.0.0.0",
        port=settings.port,
        log_config=None,
        server_header=False,
        proxy_headers=True,
        timeout_graceful_shutdown=20,
    )
    return 0
