"""`python -m harness.emulator.moto_server` as a child process: the one way the harness starts a moto server."""

from __future__ import annotations

import sys
import urllib.request
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType

import httpx

from harness.core.errors import HarnessError
from harness.core.ports import free_port
from harness.core.process import ManagedProcess

READY_PATH = "/moto-api/"
STATE_SAVE_PATH = "/_harness/state/save"  # moto_server.STATE_SAVE_PATH (that module imports moto's settings)


RESTORE_REFUSED = 2  # moto_server's exit code when it cannot restore its --restore file
_REFUSAL_PREFIX = "moto_server: cannot restore the emulator state"


class EmulatorStateRefused(HarnessError):
    """The emulator would not start from a saved state (corrupt, another moto/harness/patch set): it never served."""


def moto_ready(endpoint: str) -> bool:
    """True once the moto server at `endpoint` answers GET /moto-api/ with 200."""
    with urllib.request.urlopen(endpoint + READY_PATH, timeout=2) as response:  # noqa: S310
        return bool(response.status == 200)


def save_state(endpoint: str, path: Path, timeout: float = 120.0, log_path: Path | None = None) -> dict[str, object]:
    """Have the moto server at `endpoint` write its state to `path` (a consistent point: requests wait
    meanwhile); returns its answer (path, services, size, seconds)."""
    where = f"see {log_path}" if log_path else "see the moto server's log"
    try:
        response = httpx.post(endpoint + STATE_SAVE_PATH, json={"path": str(Path(path).resolve())}, timeout=timeout)
    except httpx.HTTPError as exc:
        raise HarnessError(f"the moto server on {endpoint} did not answer the state save ({exc})", where) from exc
    if response.status_code != 200:
        raise HarnessError(f"the moto server on {endpoint} could not save its state to {path}: {response.text}", where)
    answer: dict[str, object] = response.json()
    return answer


class MotoServerProcess:
    """A moto server tagged with the run marker of `run_dir`, so the reaper finds it: start(), stop(), endpoint.

    Usable as a context manager. `env` goes on top of this process's environment, or with
    `inherit_env=False` is the whole environment (plus the marker), e.g. to leave out the fidelity patches'
    variables for stock moto. The server logs to `log_path`, by default `run_dir/moto-<port>.log`.
    `restore` is an emulator state file (`save_state`) the server loads before it serves; one it cannot
    restore makes `start` fail with the server's one-line reason.
    """

    def __init__(
        self,
        run_dir: Path,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        patches: Iterable[str] | None = None,
        no_patches: bool = False,
        env: Mapping[str, str] | None = None,
        inherit_env: bool = True,
        log_path: Path | None = None,
        die_with_parent: bool = False,
        restore: Path | None = None,
    ) -> None:
        self.host = host
        self.port = port or free_port(host)
        argv = [sys.executable, "-m", "harness.emulator.moto_server", "--host", host, "--port", str(self.port)]
        if no_patches:
            argv.append("--no-patches")
        for name in patches or ():
            argv += ["--patch", name]
        self.restore = restore
        if restore is not None:
            argv += ["--restore", str(Path(restore).resolve())]
        self.process = ManagedProcess(
            name="moto server",
            argv=argv,
            run_dir=run_dir,
            log_path=log_path or run_dir / f"moto-{self.port}.log",
            env=dict(env or {}),
            inherit_env=inherit_env,
            die_with_parent=die_with_parent,
        )

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 60.0) -> float:
        """Start the server and wait until it answers; returns the seconds that took. Stops it on failure."""
        self.process.start()
        try:
            return self.process.wait_ready(lambda: moto_ready(self.endpoint), timeout)
        except HarnessError as exc:
            self.stop()
            refusal = self._restore_refusal()
            if refusal:
                raise EmulatorStateRefused(refusal, str(exc)) from exc
            raise
        except BaseException:
            self.stop()
            raise

    def _restore_refusal(self) -> str | None:
        """The server's one line when it exited because it could not restore `restore`."""
        popen = self.process.popen
        if self.restore is None or popen is None or popen.returncode != RESTORE_REFUSED:
            return None
        for line in reversed(self.process.log_tail().splitlines()):
            if line.startswith(_REFUSAL_PREFIX):
                return line.removeprefix("moto_server: ")
        return None

    def save_state(self, path: Path, timeout: float = 120.0) -> dict[str, object]:
        """Have the server write its state to `path` (see `save_state`)."""
        return save_state(self.endpoint, path, timeout, log_path=self.process.log_path)

    def stop(self, grace: float = 10.0) -> None:
        self.process.stop(grace)

    def __enter__(self) -> MotoServerProcess:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
