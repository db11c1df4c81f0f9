"""`EcsRunner`: runs what the emulated ECS declares, the way the ECS service scheduler would.

    runner = EcsRunner(context, EcsOptions(image_map={"mailstack-dev-api": ...}, rds_bindings=...)).start()
    # run-before-services tasks, then the services, on context.clock (e.g. time scale 10)
    runner.snapshot()      # service ARN -> counts and tasks (JSON-able)
    runner.kill_task(id)   # fault injection: SIGKILL, the service restarts it after a backoff
    runner.stop()

* `start()` reads the clusters, services and task definitions, checks that every image maps to a
  Dockerfile and every program exists, runs the run-before-services task definitions once (each must
  exit 0, else a HarnessError with the log tail), then starts the scheduler thread and returns after
  its first pass (tasks launched, not necessarily serving).
* The scheduler polls the emulator every `poll_interval` (scaled) seconds (at least 0.1 s), so
  `update_service(desiredCount=...)` and new task definition revisions are followed; it keeps each
  ACTIVE service at its desired count, replaces tasks of an older revision once enough new ones run,
  restarts crashed tasks with exponential backoff (`harness.aws.ecs.backoff`), and replaces tasks whose
  essential container turns UNHEALTHY (container `healthCheck`) or whose target the load balancer
  reports unhealthy once the service's `healthCheckGracePeriodSeconds` is over (`target_health`).
* A task: PROVISIONING (address, secrets) -> PENDING (processes starting) -> RUNNING (registered in
  the service's target groups) -> DEACTIVATING (deregistered, draining for the target group's
  deregistration delay) -> STOPPING (stop signal, SIGKILL after stopTimeout) -> STOPPED.
* Output of every container goes to `<run_dir>/ecs/tasks/<task id>/<container>.log` and to CloudWatch
  Logs (`harness.aws.ecs.logship`). The snapshot is also written to `<run_dir>/ecs/snapshot.json`
  whenever it changes, for other processes (an emulator patch serving describe-tasks).

Service tasks are started from the scheduler thread (a process that dies with its parent is tied to
the thread that started it); `stop()` stops every task from that thread before it ends.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from harness.aws.ecs.addresses import LoopbackAllocator
from harness.aws.ecs.backoff import RestartBackoff
from harness.aws.ecs.drivers import TaskDriver, TaskHandle, TaskLaunch, select_driver
from harness.aws.ecs.health import ContainerHealth
from harness.aws.ecs.images import ImageResolver
from harness.aws.ecs.loader import EcsLoader
from harness.aws.ecs.logship import LogShipper, stream_name
from harness.aws.ecs.model import EcsModel, Service, TaskDefinition
from harness.aws.ecs.options import EcsOptions
from harness.aws.ecs.planner import TaskPlanner
from harness.aws.ecs.targets import TargetRef, TargetRegistrar, task_targets
from harness.aws.ecs.tasks import ContainerState, StopCode, Task, TaskStatus, new_task_id, task_arn
from harness.core.context import RuntimeContext
from harness.core.errors import HarnessError, ReadinessTimeoutError
from harness.core.probes import EventuallyFailed, eventually

log = logging.getLogger(__name__)

MIN_POLL_INTERVAL = 0.1
TICK = 0.05
STOPPED_TASKS_KEPT = 50  # per service / for standalone tasks, like ECS keeps stopped tasks for a while


class EcsRunner:
    """The ECS data plane of the local cloud.

    context: the emulated AWS, the clock (poll interval, backoff, stopTimeout, deregistration delay,
        container health checks and healthCheckGracePeriod are AWS seconds on it) and the run directory
        (the reaper's process marker; task logs and snapshot.json under `ecs/`).
    options: what is ECS-specific (`EcsOptions`: images, RDS bindings, run-before-services, the load
        balancer's view of target health, environment overrides, ...).
    """

    name = "ecs"

    def __init__(self, context: RuntimeContext, options: EcsOptions | None = None) -> None:
        options = options or EcsOptions()
        clients = context.clients
        self.context = context
        self.options = options
        self.clients = clients
        self.clock = context.clock
        self.state_dir = context.paths.ecs_dir
        self.run_dir = context.run_dir
        image_map = options.image_map
        self.images = image_map if isinstance(image_map, ImageResolver) else ImageResolver(image_map or {})
        driver = options.driver
        self.driver: TaskDriver = select_driver(driver, self.run_dir) if isinstance(driver, str) else driver
        self.run_before_refs = list(options.run_before_services)
        self.run_before_tag = options.run_before_tag
        self.run_before_timeout = options.run_before_timeout
        self.run_before_cluster = options.run_before_cluster
        self.poll_interval = max(MIN_POLL_INTERVAL, self.clock.seconds(options.poll_interval))
        self.health_checks = options.health_checks
        self.drain = options.drain
        self.addresses = options.addresses or LoopbackAllocator()
        self.loader = EcsLoader(clients.client("ecs"))
        self.planner = TaskPlanner(clients, self.images, options.rds_bindings, self.addresses,
                                   bind_host_var=options.bind_host_var, die_with_parent=options.die_with_parent)
        self.registrar = TargetRegistrar(clients.client("elbv2"))
        self.backoff = RestartBackoff(options.backoff_base, options.backoff_cap, stable_after=options.stable_after,
                                      clock=self.clock)
        self.logs = LogShipper(clients, flush_interval=options.log_flush_interval)
        self.run_before: list[Task] = []
        self.environment_overrides: dict[str, str] = dict(options.environment_overrides)
        self.target_health = options.target_health

        self._model = EcsModel()
        self._tasks: dict[str, Task] = {}
        self._handles: dict[str, TaskHandle] = {}
        self._task_defs: dict[str, TaskDefinition] = {}  # task id -> its definition
        self._targets: dict[str, list[TargetRef]] = {}
        self._health: dict[tuple[str, str], ContainerHealth] = {}
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._pass_done = threading.Condition()
        self._passes = 0
        self._thread: threading.Thread | None = None
        self._workers = ThreadPoolExecutor(max_workers=16, thread_name_prefix="ecs-task")
        self._last_snapshot = ""
        self._last_poll_error = ""
        self._force_poll = False
        self._next_poll = 0.0

    # ================================================================ lifecycle
    def start(self, timeout: float = 60.0) -> EcsRunner:
        """Run the run-before-services tasks, then schedule the services; returns after the first pass."""
        if self._thread is not None:
            return self
        (self.state_dir / "tasks").mkdir(parents=True, exist_ok=True)
        self.logs.start()
        try:
            model = self.loader.load()
            for task_def in model.task_definitions.values():
                self.planner.check(task_def)
            self._model = model
            run_once = self.loader.run_before_services(self.run_before_refs, self.run_before_tag)
            for task_def in run_once:
                self.planner.check(task_def)
            for task_def in run_once:
                self.run_task_once(task_def)
            self._thread = threading.Thread(target=self._run, name="ecs-scheduler", daemon=True)
            self._thread.start()
            self.reconcile(timeout=timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Ready once a full scheduler pass has run after `start()` (every service's tasks launched)."""
        self.reconcile(timeout)

    def stop(self) -> None:
        """Stop every task (deregistered first), the scheduler and the log shipping. Idempotent."""
        self._stopping.set()
        self._wake.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout=120)
        else:
            self._shutdown_tasks()
        self._workers.shutdown(wait=True)
        self.logs.stop()
        self._publish()

    def __enter__(self) -> EcsRunner:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def reconcile(self, timeout: float = 30.0) -> None:
        """Re-read the emulator and converge now; waits for a full scheduler pass.

        Before `start()` (no scheduler thread) the pass runs in the calling thread.
        """
        if self._thread is None or not self._thread.is_alive():
            self._pass(force_poll=True)
            return
        with self._pass_done:
            target = self._passes + 2  # a pass that started after this call has finished
            self._force_poll = True
            self._wake.set()
            if not self._pass_done.wait_for(lambda: self._passes >= target or self._stopping.is_set(), timeout):
                raise ReadinessTimeoutError(
                    f"the ECS scheduler did not complete a pass in {timeout:.0f}s",
                    f"see the harness log; last emulator error: {self._last_poll_error or 'none'}",
                )

    # ================================================================ public state
    def tasks(self) -> list[Task]:
        with self._lock:
            return list(self._tasks.values())

    def task(self, task_id: str) -> Task:
        with self._lock:
            for task in self._tasks.values():
                if task_id in (task.task_id, task.arn):
                    return task
        raise HarnessError(f"no task {task_id!r} in this runner", "list them with runner.tasks()")

    def service_tasks(self, service_arn_or_name: str, active_only: bool = True) -> list[Task]:
        with self._lock:
            found = [t for t in self._tasks.values()
                     if t.service_arn and (t.service_arn == service_arn_or_name
                                           or t.service_arn.rsplit("/", 1)[-1] == service_arn_or_name)]
        return [t for t in found if t.active] if active_only else found

    def snapshot(self) -> dict[str, Any]:
        """{"services": {arn: {serviceName, clusterArn, taskDefinition, desiredCount, runningCount,
        pendingCount, tasks: [describe-tasks shaped]}}, "standalone": [tasks], "generatedAt": epoch}."""
        with self._lock:
            services: dict[str, dict[str, Any]] = {}
            for service in self._model.services:
                services[service.arn] = {
                    "serviceName": service.name,
                    "clusterArn": service.cluster_arn,
                    "taskDefinition": service.task_definition_arn,
                    "desiredCount": service.desired_count,
                    "runningCount": 0,
                    "pendingCount": 0,
                    "tasks": [],
                }
            standalone: list[dict[str, Any]] = []
            for task in self._tasks.values():
                if task.service_arn is None:
                    standalone.append(task.to_json())
                    continue
                entry = services.setdefault(task.service_arn, {
                    "serviceName": task.service_arn.rsplit("/", 1)[-1], "clusterArn": task.cluster_arn,
                    "taskDefinition": task.task_definition_arn, "desiredCount": 0, "runningCount": 0,
                    "pendingCount": 0, "tasks": [],
                })
                entry["tasks"].append(task.to_json())
                if task.last_status is TaskStatus.RUNNING:
                    entry["runningCount"] += 1
                elif task.last_status in (TaskStatus.PROVISIONING, TaskStatus.PENDING):
                    entry["pendingCount"] += 1
        return {"services": services, "standalone": standalone, "generatedAt": time.time()}

    def log_path(self, task_id: str, container: str | None = None) -> Path:
        task = self.task(task_id)
        names = [c.name for c in task.containers]
        name = container or (names[0] if names else "")
        return self.state_dir / "tasks" / task.task_id / f"{name}.log"

    # ================================================================ fault injection
    def stop_task(self, task_id: str, reason: str = "Task stopped by user") -> Task:
        """ECS StopTask: deregister, drain, stop signal, SIGKILL after stopTimeout. The service replaces it."""
        task = self.task(task_id)
        self._begin_stop(task, reason, StopCode.USER_INITIATED, drain=self.drain)
        return task

    def kill_task(self, task_id: str) -> Task:
        """SIGKILL every container of the task now: a crash (exit 137); the service restarts it after backoff."""
        task = self.task(task_id)
        with self._lock:
            handle = self._handles.get(task.task_id)
        if handle is not None:
            handle.kill()
        self._wake.set()
        return task

    # ================================================================ run once
    def run_task_once(self, task_def: TaskDefinition | str, timeout: float | None = None) -> Task:
        """Run a task definition to completion in the calling thread; exit code != 0 raises with the log tail."""
        if isinstance(task_def, str):
            task_def = self.loader.task_definition(task_def)
        timeout = self.run_before_timeout if timeout is None else timeout
        task = self._launch(task_def, self._standalone_cluster(task_def), service=None)
        if task.last_status is TaskStatus.STOPPED:
            raise HarnessError(f"run-before-services task {task_def.family} failed to start: {task.stopped_reason}",
                               self._tail_hint(task))
        try:
            eventually(lambda: self._essential_exit(task), lambda code: code is not None, timeout=timeout,
                       interval=TICK, what=f"run-before-services task {task_def.family} exited", fatal=(Exception,))
        except EventuallyFailed:
            self._begin_stop(task, f"run-before-services timeout after {timeout:.0f}s",
                             StopCode.USER_INITIATED, drain=False, inline=True)
            raise ReadinessTimeoutError(
                f"run-before-services task {task_def.family} did not exit within {timeout:.0f}s",
                self._tail_hint(task)) from None
        task.mark_stopping("Essential container in task exited", StopCode.ESSENTIAL_CONTAINER_EXITED)
        self._finish(task, drain=False)
        self.run_before.append(task)
        self.logs.flush()
        if task.exit_code != 0:
            raise HarnessError(
                f"run-before-services task {task_def.family} ({task.task_id}) exited with code {task.exit_code}",
                self._tail_hint(task))
        log.info("run-before-services task %s exited 0", task_def.family)
        return task

    def _standalone_cluster(self, task_def: TaskDefinition) -> str:
        if self.run_before_cluster:
            match = [c.arn for c in self._model.clusters if self.run_before_cluster in (c.arn, c.name)]
            if match:
                return match[0]
        if self._model.services:
            return self._model.services[0].cluster_arn
        if self._model.clusters:
            return self._model.clusters[0].arn
        prefix = task_def.arn.split(":task-definition/")[0]
        return f"{prefix}:cluster/default"

    def _tail_hint(self, task: Task, lines: int = 30) -> str:
        parts: list[str] = []
        for container in task.containers:
            try:
                text = container.log_path.read_text(errors="replace")
            except FileNotFoundError:
                text = ""
            tail = "\n".join(text.splitlines()[-lines:])
            parts.append(f"see {container.log_path}:\n{tail}" if tail else f"{container.log_path} is empty")
        return "\n".join(parts) or "no container was started"

    # ================================================================ scheduler
    def _run(self) -> None:
        try:
            while not self._stopping.is_set():
                force = self._force_poll
                self._force_poll = False
                try:
                    self._pass(force_poll=force)
                except Exception:
                    log.exception("ECS scheduler pass failed")
                self._wake.wait(TICK)
                self._wake.clear()
        finally:
            self._shutdown_tasks()
            with self._pass_done:
                self._pass_done.notify_all()

    def _pass(self, force_poll: bool = False) -> None:
        now = self.clock.monotonic()
        if force_poll or now >= self._next_poll:
            self._next_poll = now + self.poll_interval
            try:
                model = self.loader.load()
                self._last_poll_error = ""
                with self._lock:
                    self._model = model
            except Exception as exc:  # the emulator may be restarting; keep the last model
                self._last_poll_error = str(exc)
                log.warning("cannot read ECS services from the emulator: %s", exc)
        self._check_tasks()
        if self.health_checks:
            self._check_health()
        if self.target_health is not None:
            self._check_target_health(self.target_health)
        if not self._stopping.is_set():
            self._converge()
        self._trim_stopped()
        self._publish()
        with self._pass_done:
            self._passes += 1
            self._pass_done.notify_all()

    def _converge(self) -> None:
        with self._lock:
            model = self._model
            active = [t for t in self._tasks.values() if t.service_arn and t.active and t.desired_status == "RUNNING"]
        known = {s.arn for s in model.services}
        for task in active:
            if task.service_arn not in known:
                self._begin_stop(task, "Service deleted", StopCode.SERVICE_SCHEDULER_INITIATED, drain=self.drain)
        for service in model.services:
            self._converge_service(model, service, [t for t in active if t.service_arn == service.arn])

    def _converge_service(self, model: EcsModel, service: Service, tasks: list[Task]) -> None:
        cluster = model.cluster(service.cluster_arn)
        desired = service.desired_count if service.active and cluster is not None else 0
        current = [t for t in tasks if t.task_definition_arn == service.task_definition_arn]
        old = [t for t in tasks if t.task_definition_arn != service.task_definition_arn]
        scaling = f"Scaling activity initiated by (deployment ecs-svc/{service.name})"
        if len(current) > desired:
            # not yet running ones first, then the newest
            order = sorted(current, key=lambda t: (t.running, -t.created_at))
            for task in order[: len(current) - desired]:
                self._begin_stop(task, scaling, StopCode.SERVICE_SCHEDULER_INITIATED, drain=self.drain)
        missing = desired - len(current)
        task_def = model.task_definitions.get(service.task_definition_arn)
        while missing > 0 and task_def is not None and self.backoff.ready(service.arn):
            task = self._launch(task_def, service.cluster_arn, service=service)
            missing -= 1
            if task.last_status is TaskStatus.STOPPED:
                break
        running_current = sum(1 for t in current if t.running)
        if old and running_current >= desired:
            for task in old:
                self._begin_stop(task, scaling, StopCode.SERVICE_SCHEDULER_INITIATED, drain=self.drain)

    # ================================================================ launching
    def _launch(self, task_def: TaskDefinition, cluster_arn: str, service: Service | None) -> Task:
        task_id = new_task_id()
        log_dir = self.state_dir / "tasks" / task_id
        task = Task(
            task_id=task_id,
            arn=task_arn(cluster_arn, task_id),
            cluster_arn=cluster_arn,
            task_definition_arn=task_def.arn,
            family=task_def.family,
            group=f"service:{service.name}" if service else f"family:{task_def.family}",
            service_arn=service.arn if service else None,
            log_dir=log_dir,
        )
        task.containers = [
            ContainerState(name=c.name, image=c.image, essential=True, log_path=log_dir / f"{c.name}.log",
                           ports=[p.container_port for p in c.port_mappings])
            for c in task_def.essential_containers
        ]
        with self._lock:
            self._tasks[task_id] = task
            self._task_defs[task_id] = task_def
        try:
            task.ip = self.addresses.allocate(self.planner.ports(task_def))
            launch = self._with_overrides(self.planner.plan(task_def, task_id, log_dir, task.ip))
            task.set_status(TaskStatus.PENDING)
            for container, spec in zip(task.containers, launch.containers, strict=True):
                container.argv = list(spec.argv)
            handle = self.driver.launch(launch)
        except HarnessError as exc:
            self._failed_to_start(task, exc)
            return task
        with self._lock:
            self._handles[task_id] = handle
        pids = handle.pids()
        now = self.clock.monotonic()
        for container in task.containers:
            container.pid = pids.get(container.name)
            container.last_status = "RUNNING"
            self._ship(task, container.name, container.log_path, task_def)
            spec_def = task_def.container(container.name)
            if self.health_checks and spec_def is not None and spec_def.health_check is not None:
                with self._lock:
                    self._health[(task_id, container.name)] = ContainerHealth(spec_def.health_check, now,
                                                                              self.clock)
        task.set_status(TaskStatus.RUNNING)
        if service is not None and service.load_balancers:
            registered = self.registrar.register(task_targets(task.ip, service.load_balancers))
            with self._lock:
                self._targets[task_id] = registered
        log.info("task %s (%s) RUNNING on %s", task_id, task.group, task.ip)
        return task

    def _with_overrides(self, launch: TaskLaunch) -> TaskLaunch:
        if not self.environment_overrides:
            return launch
        containers = [
            dataclasses.replace(c, env={**c.env, **self.environment_overrides}) for c in launch.containers
        ]
        return dataclasses.replace(launch, containers=containers)

    def _failed_to_start(self, task: Task, exc: HarnessError) -> None:
        log.warning("task %s (%s) failed to start: %s", task.task_id, task.group, exc)
        task.mark_stopping(exc.problem, StopCode.TASK_FAILED_TO_START)
        with contextlib.suppress(OSError):
            for container in task.containers:
                container.log_path.parent.mkdir(parents=True, exist_ok=True)
                with container.log_path.open("a") as handle:
                    handle.write(f"[harness] task failed to start: {exc}\n")
        for container in task.containers:
            container.last_status = "STOPPED"
        if task.ip:
            self.addresses.release(task.ip)
        task.set_status(TaskStatus.STOPPED)
        if task.service_arn:
            self.backoff.failed(task.service_arn)

    def _ship(self, task: Task, container: str, path: Path, task_def: TaskDefinition) -> None:
        spec = task_def.container(container)
        config = spec.log_configuration if spec is not None else None
        if config is None or not config.is_awslogs:
            return
        self.logs.add(path, config.group, stream_name(config.stream_prefix, container, task.task_id), config.region)

    # ================================================================ watching
    def _essential_exit(self, task: Task) -> int | None:
        """Poll the task's containers; the exit code of the first essential one that exited, if any."""
        with self._lock:
            handle = self._handles.get(task.task_id)
        if handle is None:
            return None
        codes = handle.poll()
        first: int | None = None
        for container in task.containers:
            code = codes.get(container.name)
            if code is not None and container.exit_code is None:
                container.exit_code = code
                container.last_status = "STOPPED"
            if container.exit_code is not None and first is None:
                first = container.exit_code
        if first is not None and task.exit_code is None:
            task.exit_code = first
        return first

    def _check_tasks(self) -> None:
        with self._lock:
            watched = [t for t in self._tasks.values() if t.task_id in self._handles and t.desired_status == "RUNNING"]
        now = time.time()
        for task in watched:
            code = self._essential_exit(task)
            if code is None:
                if task.service_arn and task.started_at is not None:
                    self.backoff.ran_for(task.service_arn, now - task.started_at)
                continue
            if task.service_arn is None:
                continue  # run-once tasks are finished by run_task_once
            if self._begin_stop(task, "Essential container in task exited", StopCode.ESSENTIAL_CONTAINER_EXITED,
                                drain=False):
                delay = self.backoff.failed(task.service_arn)
                log.warning("task %s (%s) exited with code %s; next launch in %.1fs", task.task_id, task.group,
                            code, delay)

    def _check_health(self) -> None:
        now = self.clock.monotonic()
        with self._lock:
            due = [(key, state) for key, state in self._health.items() if state.due(now)]
        for (task_id, container), state in due:
            with self._lock:
                handle = self._handles.get(task_id)
                task = self._tasks.get(task_id)
            if handle is None or task is None or task.desired_status != "RUNNING":
                continue
            state.running = True
            self._workers.submit(self._run_health_check, task, container, state, handle)

    def _run_health_check(self, task: Task, container: str, state: ContainerHealth, handle: TaskHandle) -> None:
        code = handle.run_check(container, state.check.command, state.timeout)
        status = state.record(code, self.clock.monotonic())
        for item in task.containers:
            if item.name == container:
                item.health_status = status
        if status == "UNHEALTHY" and task.service_arn and task.desired_status == "RUNNING":
            reason = f"Task failed container health checks (container {container})"
            if self._begin_stop(task, reason, StopCode.ESSENTIAL_CONTAINER_EXITED, drain=self.drain):
                self.backoff.failed(task.service_arn)
        self._wake.set()

    def _check_target_health(self, target_health: Callable[[str, str, int], str | None]) -> None:
        now = time.time()
        with self._lock:
            services = {service.arn: service for service in self._model.services}
            watched = [(task, list(self._targets.get(task.task_id, []))) for task in self._tasks.values()
                       if task.service_arn and task.desired_status == "RUNNING" and task.started_at is not None]
        for task, targets in watched:
            service = services.get(str(task.service_arn))
            grace = self.clock.seconds(service.health_check_grace_period) if service else 0.0
            if task.started_at is None or now - task.started_at < grace:
                continue
            for target in targets:
                if target_health(target.target_group_arn, target.ip, target.port) == "unhealthy":
                    reason = f"Task failed ELB health checks in (target-group {target.target_group_arn})"
                    if self._begin_stop(task, reason, StopCode.SERVICE_SCHEDULER_INITIATED, drain=self.drain):
                        self.backoff.failed(str(task.service_arn))
                    break

    # ================================================================ stopping
    def _begin_stop(self, task: Task, reason: str, code: StopCode, drain: bool, inline: bool = False) -> bool:
        """Mark the task stopping (first reason wins) and stop it in a worker thread; False if already stopping."""
        if not task.mark_stopping(reason, code):
            return False
        log.info("stopping task %s (%s): %s", task.task_id, task.group, reason)
        if inline or self._stopping.is_set():
            self._finish(task, drain)
        else:
            self._workers.submit(self._finish, task, drain)
        return True

    def _finish(self, task: Task, drain: bool) -> None:
        """Deregister, drain, stop signal, SIGKILL after stopTimeout, record exit codes; STOPPED."""
        try:
            task.desired_status = "STOPPED"
            with self._lock:
                targets = self._targets.pop(task.task_id, [])
                handle = self._handles.get(task.task_id)
                task_def = self._task_defs.get(task.task_id)
                for key in [k for k in self._health if k[0] == task.task_id]:
                    del self._health[key]
            if targets:
                task.set_status(TaskStatus.DEACTIVATING)
                self.registrar.deregister(targets)
                if drain and not self._stopping.is_set():
                    delay = self.registrar.deregistration_delay(t.target_group_arn for t in targets)
                    self.clock.wait(self._stopping, delay)
            task.set_status(TaskStatus.STOPPING)
            if handle is not None:
                grace = self.clock.seconds(task_def.stop_timeout if task_def else 30.0)
                codes = handle.stop(grace)
                for container in task.containers:
                    if container.exit_code is None:
                        container.exit_code = codes.get(container.name)
                    container.last_status = "STOPPED"
                if task.exit_code is None:
                    task.exit_code = next((c.exit_code for c in task.containers if c.exit_code is not None), None)
            for container in task.containers:
                self.logs.close(container.log_path)
        except Exception:
            log.exception("stopping task %s failed", task.task_id)
        finally:
            with self._lock:
                self._handles.pop(task.task_id, None)
            if task.ip:
                self.addresses.release(task.ip)
            task.set_status(TaskStatus.STOPPED)
            self._wake.set()

    def _shutdown_tasks(self) -> None:
        with self._lock:
            live = [t for t in self._tasks.values() if t.task_id in self._handles]
        pending = [t for t in live if t.mark_stopping("Harness stopping", StopCode.SERVICE_SCHEDULER_INITIATED)]
        threads = [threading.Thread(target=self._finish, args=(t, False), daemon=True) for t in pending]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        # tasks already stopping in workers finish there; wait for them too
        with contextlib.suppress(EventuallyFailed):
            eventually(lambda: not self._handles, timeout=120, interval=TICK, what="every task stopped")

    def _trim_stopped(self) -> None:
        with self._lock:
            groups: dict[str, list[Task]] = {}
            for task in self._tasks.values():
                if task.last_status is TaskStatus.STOPPED:
                    groups.setdefault(task.service_arn or "", []).append(task)
            for stopped in groups.values():
                stopped.sort(key=lambda t: t.stopped_at or 0)
                for task in stopped[:-STOPPED_TASKS_KEPT]:
                    del self._tasks[task.task_id]
                    self._task_defs.pop(task.task_id, None)

    def _publish(self) -> None:
        """Write snapshot.json when the tasks changed (atomically: other processes read it)."""
        snapshot = self.snapshot()
        body = json.dumps({k: v for k, v in snapshot.items() if k != "generatedAt"}, sort_keys=True)
        if body == self._last_snapshot:
            return
        self._last_snapshot = body
        path = self.state_dir / "snapshot.json"
        with contextlib.suppress(OSError):
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(snapshot, indent=1, sort_keys=True))
            tmp.replace(path)
