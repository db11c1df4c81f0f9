"""Servers for the fidelity-patch tests: a patched moto in this process and a stock one in a subprocess.

`server` is parametrised over both by ``@stock_fails(reason)`` (see support.py): the test asserts AWS's
behaviour, and its expected (strict xfail) failure against stock moto proves the patch is needed.
Patches apply process-wide once applied, so the stock server is a separate process
(``python -m harness.emulator.moto_server --no-patches``) started without the patches' environment.
Note that applying the patches here also patches moto for any later test in this pytest process.
"""

from __future__ import annotations

import os
import urllib.request
from collections.abc import Iterator

import pytest

from harness.aws import fidelity as patches
from harness.core.ports import free_port
from harness.emulator.moto_process import MotoServerProcess
from tests.harness.aws.support import Aws


@pytest.fixture(scope="session")
def patched_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    patches.apply_all()
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    # Other tests in this process may have created moto's backends before the env patches were set
    # (e.g. IAM without the managed policies): rebuild them all under the patched settings.
    reset = urllib.request.Request(f"http://127.0.0.1:{port}/moto-api/reset", method="POST")
    urllib.request.urlopen(reset, timeout=120).close()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture(scope="session")
def stock_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    patch_env = {key for patch in patches.discover().values() for key in patch.env}
    env = {key: value for key, value in os.environ.items() if key not in patch_env}
    run_dir = tmp_path_factory.mktemp("stock-moto")
    with MotoServerProcess(run_dir, no_patches=True, env=env, inherit_env=False) as server:
        yield server.endpoint


@pytest.fixture
def server(request: pytest.FixtureRequest) -> Aws:
    """Parametrised indirectly (by stock_fails) with "patched" or "stock"."""
    if getattr(request, "param", "patched") == "patched":
        return Aws(request.getfixturevalue("patched_endpoint"), patched=True)
    return Aws(request.getfixturevalue("stock_endpoint"), patched=False)


@pytest.fixture
def aws(patched_endpoint: str) -> Aws:
    """The patched server only, for behaviour beyond what the stock comparison needs."""
    return Aws(patched_endpoint, patched=True)
