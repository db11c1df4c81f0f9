"""pytest plugin: a booted local cloud for scenario suites.

`stack` boots the local cloud once per session, or reuses a running one whose Terraform, services and
data-plane settings are unchanged (`harness up` beforehand makes every run start in about a second).
A stack the session booted is stopped when the session ends, unless `--harness-keep`; a stack that was
running before the session (e.g. from `harness up`) is left running, even when the session re-applied it.
Under xdist the workers share one stack: the first boots it under a file lock, the others reuse it, and the
controller stops it at the end. Should the session die instead of ending (SIGKILL, a crash), its guardian
(`harness.testing.guardian`, started by the controller) stops the stack and removes its state.
Every process the session starts carries its session id (`harness.core.reaper.begin_session`), which the
root conftest's leak check uses to count this session's processes only.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from harness.core.clients import AwsClients
from harness.core.config import DEFAULT_TIME_SCALE, Backend, HarnessSettings, load_settings
from harness.core.errors import SettingsError, StateFileError
from harness.core.probes import eventually as _eventually
from harness.core.progress import QuietReporter
from harness.core.reaper import begin_session
from harness.stack import Stack
from harness.testing import AlarmWatch, EcsControl
from harness.testing.guardian import SessionGuardian
from harness.testing.handle import StackHandle
from harness.testing.reporting import failure_report
from harness.testing.smtp_client import SendResult, send_mail

_GUARDIAN = pytest.StashKey[SessionGuardian]()
KEPT_RUN_DIRS = pytest.StashKey[set[str]]()
SESSION_ID = pytest.StashKey[str]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("harness", "mailstack local cloud")
    group.addoption("--harness-run-dir", default=None, help="state directory of the stack (default .harness)")
    group.addoption("--harness-keep", action="store_true", help="leave a stack this session booted running")
    group.addoption("--harness-fresh", action="store_true", help="stop any running stack and boot a new one")
    group.addoption("--harness-backend", default=None, choices=[b.value for b in Backend], help="emulated AWS")
    group.addoption("--harness-time-scale", type=float, default=None,
                    help="divides the data plane's AWS timers (default: the setting, HARNESS_TIME_SCALE or "
                         f"{DEFAULT_TIME_SCALE:g})")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "scenario: runs against the booted local cloud")
    config.stash[KEPT_RUN_DIRS] = set()
    if not hasattr(config, "workerinput"):  # before xdist starts its workers: they inherit the id
        config.stash[SESSION_ID] = begin_session()


def harness_settings_from(config: pytest.Config) -> HarnessSettings:
    overrides: dict[str, Any] = {"project_dir": Path(config.rootpath)}
    if config.getoption("harness_time_scale") is not None:
        overrides["time_scale"] = config.getoption("harness_time_scale")
    if config.getoption("harness_run_dir"):
        overrides["run_dir"] = Path(config.getoption("harness_run_dir"))
    if config.getoption("harness_backend"):
        overrides["backend"] = Backend(config.getoption("harness_backend"))
    try:
        return load_settings(overrides, _FLAGS)
    except SettingsError as exc:
        raise pytest.UsageError("\n".join(exc.problems)) from None


_FLAGS = {"run_dir": "--harness-run-dir", "backend": "--harness-backend", "time_scale": "--harness-time-scale"}


def pytest_sessionstart(session: pytest.Session) -> None:
    """On the controller (or a lone session): remember whether a stack was already running (then it is not
    this session's to stop, even if the session re-applies it to other Terraform or settings).

    Under xdist the controller collects nothing, so this cannot depend on which tests were collected:
    at the end, a stack that exists now but was not running at the start was booted by this session.
    When the session may boot the stack, a guardian is armed to stop it should the session die.
    """
    if hasattr(session.config, "workerinput"):
        return
    stack = Stack(harness_settings_from(session.config))
    if session.config.getoption("harness_fresh"):
        stack.down()
    try:
        state = stack.load_state()
    except StateFileError:
        if stack.processes():
            return  # not ours to stop while its processes run (the `stack` fixture reports the error)
        state = None  # it describes nothing that runs: the session boots over it
    if state is None or not stack.healthy(state):
        guardian = SessionGuardian(stack.run_dir, session.config.stash[SESSION_ID])
        guardian.arm()
        session.config.stash[_GUARDIAN] = guardian


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    guardian = config.stash.get(_GUARDIAN, None)
    if guardian is None:
        return  # a worker, or a stack that was running before the session: not the session's to stop
    settings = harness_settings_from(config)
    stack = Stack(settings)
    try:
        asked = stack.load_state() is not None  # a test asked for the stack
    except StateFileError:
        asked = True  # whatever runs there, this session booted it (sessionstart saw nothing running)
    if asked:
        if config.getoption("harness_keep"):
            config.stash[KEPT_RUN_DIRS].add(str(settings.run_path))
        else:
            stack.down()
    # Not reached when stopping the stack failed: the guardian then reaps it once this process exits.
    guardian.disarm()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A failed scenario that used the stack gets a "mailstack diagnosis" section: task log tails and the
    trace of every mail the test sent (SMTP → SES rules → S3 key → SQS receives → row or DLQ)."""
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if not report.failed or "stack" not in getattr(item, "fixturenames", ()):
        return
    funcargs = getattr(item, "funcargs", None) or {}
    handle = funcargs.get("stack")
    if isinstance(handle, StackHandle):
        mail = funcargs.get("mail")
        sent = mail.sent if mail is not None else []
        report.sections.append(("mailstack diagnosis", failure_report(handle, sent)))


@pytest.fixture(scope="session")
def harness_settings(pytestconfig: pytest.Config) -> HarnessSettings:
    return harness_settings_from(pytestconfig)


@pytest.fixture(scope="session")
def stack(harness_settings: HarnessSettings) -> StackHandle:
    """The running local cloud (booted or reused)."""
    Stack(harness_settings, QuietReporter(), detached=True).up()
    return StackHandle.attach(harness_settings)


@pytest.fixture(scope="session")
def aws(stack: StackHandle) -> AwsClients:
    return stack.aws


@pytest.fixture
def api(stack: StackHandle) -> Iterator[httpx.Client]:
    """An HTTPS client through the ALB's :443 listener (TLS verified against the harness CA), authorised."""
    with stack.api() as client:
        yield client


@pytest.fixture
def db(stack: StackHandle) -> Iterator[psycopg.Connection[Any]]:
    with stack.db() as connection:
        yield connection


class Mail:
    """Sends over real SMTP to the SES inbound MX; `address()` makes recipients unique to the test."""

    def __init__(self, handle: StackHandle, test_name: str) -> None:
        self.handle = handle
        self.tag = f"{test_name.split('[')[0][-24:].strip('_').replace('_', '-')}-{uuid.uuid4().hex[:8]}".lower()
        self.sent: list[SendResult] = []

    def address(self, local: str = "inbox", domain: str | None = None) -> str:
        return f"{local}+{self.tag}@{domain or self.handle.mail_domains[0]}"

    def send(self, **kwargs: Any) -> SendResult:
        host, port = self.handle.smtp
        kwargs.setdefault("ca_bundle", self.handle.ca_bundle)  # STARTTLS verified against the harness CA
        result = send_mail(host, port, **kwargs)
        self.sent.append(result)
        return result


@pytest.fixture
def mail(stack: StackHandle, request: pytest.FixtureRequest) -> Mail:
    return Mail(stack, request.node.name)


@pytest.fixture
def eventually() -> Callable[..., Any]:
    return _eventually


@pytest.fixture(scope="session")
def alarms(stack: StackHandle) -> Iterator[AlarmWatch]:
    """The stack's CloudWatch alarms; `watch(name)` subscribes an SQS queue and an HTTPS endpoint to the
    topics an alarm notifies, `wait_notification(...)` returns what both received. Unsubscribed at the end."""
    stack.refresh()
    if stack.runtime.cloudwatch is None:
        pytest.skip("this stack's runtime runs no CloudWatch emulation (a stack from an older harness?): "
                    "`harness down` and boot again")
    watch = AlarmWatch(stack, _eventually)
    try:
        yield watch
    finally:
        watch.close()


@pytest.fixture
def ecs(stack: StackHandle) -> Iterator[EcsControl]:
    """ECS services of the stack: read, scale, kill/freeze/throttle tasks. Whatever a test changed is put
    back when it ends (desired counts, frozen or throttled tasks), and the services run again."""
    control = EcsControl(stack, _eventually)
    try:
        yield control
    finally:
        control.restore()
