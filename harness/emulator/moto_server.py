"""A moto server patched to behave like AWS where stock moto falls short.

    python -m harness.emulator.moto_server --host 127.0.0.1 --port 4566 [--no-patches] [--patch NAME ...]
                                           [--restore STATE_FILE]

Order matters, so ``main`` does, in this order:

1. sets the environment moto reads (some of it at import time) BEFORE anything imports moto:
   ``MOTO_PORT`` (moto calls itself back on it) and the ``env`` of every selected patch, e.g.

   * ``MOTO_IAM_LOAD_MANAGED_POLICIES=true`` (patch ``iam-managed-policies``): AWS has the AWS-managed
     policies (``arn:aws:iam::aws:policy/...``) in every account; stock moto has none, so attaching
     ``AmazonECSTaskExecutionRolePolicy`` fails with NoSuchEntity.
   * ``MOTO_ACM_VALIDATION_WAIT=0`` (patch ``acm-validation-immediate``): see that module.

   A value the user already exported wins over the patch's;
2. applies the selected fidelity patches (``harness.aws.fidelity``; all of them unless ``--no-patches``
   or ``--patch``);
3. serves moto (``DomainDispatcherApplication`` on werkzeug, threaded) plus ``GET /_harness/patches``
   (JSON: the patches applied), logs one line naming the address and the patches, and on SIGTERM or
   SIGINT stops serving and exits 0. A signed request for a service moto does not implement gets an
   AWS-shaped ``501 NotImplemented`` error naming the service ("the emulated AWS has no CodeArtifact"),
   in the protocol of that service, instead of moto's HTML error page (which SDKs report as
   ``invalid character '<'``).

With ``--restore STATE_FILE`` it loads an emulator state (``harness.emulator.state``) after applying the
patches and before serving; a file it cannot restore (truncated, corrupt, another moto/harness/patch set)
is one ``StateFormatError`` line on stderr and exit code 2, the server never serving half-restored.
``POST /_harness/state/save?path=FILE`` (or a JSON body ``{"path": FILE}``) writes the state to FILE and
answers JSON ``{"path", "services", "size", "seconds"}``; every request passes a gate
(``harness.emulator.quiesce``) that the save closes, so the file is one consistent point in time.

Ready when ``GET http://HOST:PORT/moto-api/`` answers 200. ``harness.emulator.moto_process.MotoServerProcess``
starts it as a child process (tagged for the reaper) and polls that.
``--no-patches`` gives stock moto, to tell an emulator gap from a bug of ours. The patches, and where a
cold ``terraform apply`` still spends its time, are described in ``harness/aws/README.md``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from harness.core.errors import HarnessError
from harness.core.ports import free_port
from harness.emulator.quiesce import RequestGate, let_long_polls_step_out

PATCHES_PATH = "/_harness/patches"
STATE_SAVE_PATH = "/_harness/state/save"

log = logging.getLogger("harness.emulator.moto_server")

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


def _save_target(environ: dict[str, Any]) -> Path:
    from urllib.parse import parse_qs

    query = parse_qs(str(environ.get("QUERY_STRING", "")))
    if query.get("path"):
        return Path(query["path"][-1])
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = json.loads(environ["wsgi.input"].read(length) or b"{}") if length else {}
    if not isinstance(body, dict) or not isinstance(body.get("path"), str) or not body["path"]:
        raise ValueError("say where to save: ?path=FILE or a JSON body {\"path\": FILE}")
    return Path(body["path"])


def _state_endpoint(app: WSGIApp, gate: RequestGate, endpoint: str) -> WSGIApp:
    """Every request passes `gate`; POST /_harness/state/save closes it and dumps the emulator state."""
    from harness.emulator import state

    def reply(start_response: Callable[..., Any], status: str, payload: dict[str, Any]) -> list[bytes]:
        body = json.dumps(payload).encode()
        start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]

    def wrapped(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != STATE_SAVE_PATH:
            with gate.request():
                return app(environ, start_response)
        if environ.get("REQUEST_METHOD") != "POST":
            return reply(start_response, "405 Method Not Allowed", {"error": f"POST {STATE_SAVE_PATH}?path=FILE"})
        try:
            target = _save_target(environ)
        except ValueError as exc:
            return reply(start_response, "400 Bad Request", {"error": str(exc)})
        started = time.monotonic()
        try:
            with gate.exclusive():
                info = state.dump(target, endpoint=endpoint)
        except Exception as exc:
            log.exception("emulator state: saving to %s failed", target)
            return reply(start_response, "500 Internal Server Error", {"error": f"{type(exc).__name__}: {exc}"})
        seconds = time.monotonic() - started
        log.info("emulator state: saved %d services to %s (%d bytes, %.2f s)", len(info.services), target,
                 info.size, seconds)
        return reply(start_response, "200 OK",
                     {"path": str(info.path), "services": info.services, "size": info.size, "seconds": seconds})

    return wrapped


def _unimplemented_service(dispatcher: Any, environ: dict[str, Any]) -> str | None:
    """The signing name of a signed request's service when moto has no backend for it, else None."""
    path = str(environ.get("PATH_INFO", ""))
    auth = str(environ.get("HTTP_AUTHORIZATION", ""))
    if not auth or path.startswith(("/moto-api", "/latest/", "/_harness")):
        return None
    try:
        signing_name = auth.split(",")[0].split()[1].split("/")[3]
        host = dispatcher.infer_service_region_host(environ, path)
    except (IndexError, KeyError, ValueError):
        return None
    if host is None or dispatcher.get_backend_for_host(host) is not None:
        return None
    return signing_name


def _service_model(signing_name: str) -> tuple[str, str]:
    """The service's name as AWS documents it and its protocol (json, rest-json, query, rest-xml, ec2)."""
    import botocore.exceptions
    import botocore.session

    try:
        model = botocore.session.get_session().get_service_model(signing_name)
    except botocore.exceptions.UnknownServiceError:
        return signing_name, "json"
    metadata = model.metadata
    name = metadata.get("serviceAbbreviation") or metadata.get("serviceFullName") or signing_name
    return str(name), str(model.protocol)


def _not_implemented(signing_name: str, moto_version: str) -> tuple[dict[str, str], bytes]:
    from xml.sax.saxutils import escape

    name, protocol = _service_model(signing_name)
    message = (f"the emulated AWS (moto {moto_version}) has no {name}: the {signing_name} API is not "
               "implemented, so Terraform and SDK calls to it cannot work against this emulator")
    code = "NotImplemented"
    if protocol in ("json", "rest-json"):
        body = json.dumps({"__type": code, "message": message}).encode()
        return {"Content-Type": "application/x-amz-json-1.1", "x-amzn-ErrorType": code}, body
    text = f"<Code>{code}</Code><Message>{escape(message)}</Message>"
    if protocol == "ec2":
        xml = f"<Response><Errors><Error>{text}</Error></Errors><RequestID>harness</RequestID></Response>"
    elif protocol == "query":
        xml = f"<ErrorResponse><Error><Type>Sender</Type>{text}</Error><RequestId>harness</RequestId></ErrorResponse>"
    else:
        xml = f"<Error>{text}</Error>"
    return {"Content-Type": "text/xml"}, xml.encode()


def _named_gaps(dispatcher: Any, moto_version: str) -> WSGIApp:
    """Wrap moto's dispatcher so that a service it does not implement is named in an AWS-shaped error."""

    def wrapped(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        signing_name = _unimplemented_service(dispatcher, environ)
        if signing_name is None:
            return dispatcher(environ, start_response)  # type: ignore[no-any-return]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        if length:
            environ["wsgi.input"].read(length)  # keep the connection usable
        headers, body = _not_implemented(signing_name, moto_version)
        log.warning("%s: not implemented by moto (answered 501 NotImplemented)", signing_name)
        start_response("501 Not Implemented", [*headers.items(), ("Content-Length", str(len(body)))])
        return [body]

    return wrapped


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m harness.emulator.moto_server",
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
    parser.add_argument("--restore", type=Path, metavar="STATE_FILE",
                        help="load this emulator state (from POST /_harness/state/save) before serving")
    parser.add_argument("--log-requests", action="store_true", help="log every request (werkzeug)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr)
    port = args.port or free_port(args.host)
    os.environ.setdefault("MOTO_PORT", str(port))

    # The registry imports no moto; apply_all sets each patch's env before its first moto import.
    from harness.aws import fidelity as patches

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

    endpoint = f"http://{args.host}:{port}"
    if args.restore is not None:
        from harness.emulator import state

        started = time.monotonic()
        try:
            info = state.load(args.restore, endpoint)
        except state.StateFormatError as exc:
            print(f"moto_server: {exc}", file=sys.stderr)
            return 2
        log.info("emulator state: restored %d services from %s (%d bytes, %.2f s)", len(info.services),
                 args.restore, info.size, time.monotonic() - started)

    app = _patches_endpoint(_named_gaps(DomainDispatcherApplication(create_backend_app), moto.__version__), applied)
    gate = RequestGate()
    let_long_polls_step_out(gate)
    app = _state_endpoint(app, gate, endpoint)
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


if __name__ == "__main__":
    sys.exit(main())
