"""A moto server patched to behave like AWS where stock moto falls short.

    python -m harness.aws.moto_server --host 127.0.0.1 --port 4566 [--no-patches] [--patch NAME ...]

Order matters, so ``main`` does, in this order:

1. sets the environment moto reads (some of it at import time) BEFORE anything imports moto:
   ``MOTO_PORT`` (moto calls itself back on it) and the ``env`` of every selected patch, e.g.

   * ``MOTO_IAM_LOAD_MANAGED_POLICIES=true`` (patch ``iam-managed-policies``): AWS has the AWS-managed
     policies (``arn:aws:iam::aws:policy/...``) in every account; stock moto has none, so attaching
     ``AmazonECSTaskExecutionRolePolicy`` fails with NoSuchEntity.
   * ``MOTO_ACM_VALIDATION_WAIT=0`` (patch ``acm-validation-immediate``): see that module.

   A value the user already exported wins over the patch's;
2. applies the selected fidelity patches (``harness.aws.patches``; all of them unless ``--no-patches``
   or ``--patch``);
3. serves moto (``DomainDispatcherApplication`` on werkzeug, threaded) plus ``GET /_harness/patches``
   (JSON: the patches applied), logs one line naming the address and the patches, and on SIGTERM or
   SIGINT stops serving and exits 0.

Ready when ``GET http://HOST:PORT/moto-api/`` answers 200 (``MotoServerProcess.wait_ready`` polls it).
``--no-patches`` gives stock moto, to tell an emulator gap from a bug of ours. The patches, and where a
cold ``terraform apply`` still spends its time, are described in ``harness/aws/patches/README.md``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

from harness.errors import HarnessError, ReadinessTimeoutError
from harness.ports import free_port

READY_PATH = "/moto-api/"
PATCHES_PATH = "/_harness/patches"

log = logging.getLogger("harness.aws.moto_server")

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def _patches_endpoint(app: WSGIApp, patch_names: Sequence[str]) -> WSGIApp:
    """Wrap moto's WSGI app so that GET /_harness/patches lists the applied patches.

    No AWS API uses that path: S3 bucket names cannot start with an underscore.
    """
    body = json.dumps({"patches": list(patch_names)}).encode()

    def wrapped(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == PATCHES_PATH and environ.get("REQUEST_METHOD") == "GET":
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        return app(environ, start_response)

    return wrapped


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m harness.aws.moto_server",
        description="Serve moto with the harness's AWS-fidelity patches applied.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to bind (default: a free one)")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--no-patches", action="store_true", help="serve stock moto")
    group.add_argument(
        "--patch",
        action="extend",
        nargs="+",
        metavar="NAME",
        help="apply only these patches (repeatable); default: all patches",
    )
    parser.add_argument("--log-requests", action="store_true", help="log every request (werkzeug)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr)
    port = args.port or free_port(args.host)
    os.environ.setdefault("MOTO_PORT", str(port))

    # The registry imports no moto; apply_all sets each patch's env before its first moto import.
    from harness.aws import patches

    selected: set[str] | None = set() if args.no_patches else (set(args.patch) if args.patch else None)
    try:
        applied = patches.apply_all(selected)
    except HarnessError as exc:
        print(f"moto_server: {exc}", file=sys.stderr)
        return 2

    import moto
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    if not args.log_requests:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)

    app = _patches_endpoint(DomainDispatcherApplication(create_backend_app), applied)
    server = make_server(args.host, port, app, threaded=True, request_handler=MotoRequestHandler)
    stop = threading.Event()

    def _on_signal(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)

    serving = threading.Thread(target=server.serve_forever, name="moto-server", daemon=True)
    serving.start()
    log.info(
        "moto %s serving on http://%s:%d with %d fidelity patches: %s",
        moto.__version__,
        args.host,
        port,
        len(applied),
        ", ".join(applied) or "none (stock moto)",
    )
    stop.wait()
    server.shutdown()
    server.server_close()
    serving.join(timeout=5)
    log.info("moto server on port %d stopped", port)
    return 0


class MotoServerProcess:
    """`python -m harness.aws.moto_server` as a child process: start(), wait_ready(), stop(), endpoint.

    Usable as a context manager. The child is killed if it does not stop within `stop_timeout` seconds.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int | None = None,
        *,
        patches: Iterable[str] | None = None,
        no_patches: bool = False,
        env: dict[str, str] | None = None,
        log_path: Path | None = None,
        stop_timeout: float = 10.0,
    ) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.patches = list(patches) if patches is not None else None
        self.no_patches = no_patches
        self.env = env
        self.log_path = log_path
        self.stop_timeout = stop_timeout
        self.process: subprocess.Popen[bytes] | None = None
        self._log_file: Any = None

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def command(self) -> list[str]:
        cmd = [sys.executable, "-m", "harness.aws.moto_server", "--host", self.host, "--port", str(self.port)]
        if self.no_patches:
            cmd.append("--no-patches")
        for name in self.patches or ():
            cmd += ["--patch", name]
        return cmd

    def start(self, timeout: float = 30.0) -> MotoServerProcess:
        if self.log_path is not None:
            self._log_file = self.log_path.open("ab")
        output = self._log_file if self._log_file is not None else subprocess.DEVNULL
        self.process = subprocess.Popen(self.command(), env=self.env, stdout=output, stderr=subprocess.STDOUT)
        try:
            self.wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.process is not None and self.process.poll() is not None:
                raise HarnessError(
                    f"moto server exited with code {self.process.returncode} before it was ready",
                    f"run `{' '.join(self.command())}` by hand to see why",
                )
            try:
                with urllib.request.urlopen(self.endpoint + READY_PATH, timeout=2) as response:  # noqa: S310
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                raise ReadinessTimeoutError(
                    f"moto server at {self.endpoint} not ready after {timeout:.0f}s",
                    "check its log, or raise the timeout on a slow machine",
                )
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(self.stop_timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def __enter__(self) -> MotoServerProcess:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


if __name__ == "__main__":
    sys.exit(main())
