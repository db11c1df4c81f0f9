"""The local cloud as one object: boot (or reuse), status, teardown.

Order of a cold boot: emulated AWS → PostgreSQL → terraform init/apply → bind RDS instances to the
real cluster. A running stack whose Terraform is unchanged is reused without any apply; a running
stack whose Terraform changed gets an incremental apply; a dead or half-booted one is reaped first.
"""

from __future__ import annotations

import os
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
from filelock import FileLock

from harness.aws.rds.binding import bind_rds_instances
from harness.core.clients import AwsClients
from harness.core.config import Backend, HarnessSettings
from harness.core.errors import HarnessError, NewerStateFileError, StateFileError
from harness.core.ports import ensure_port_free, free_port
from harness.core.progress import QuietReporter, Reporter
from harness.core.reaper import processes_of, processes_running, reap, terminate
from harness.core.rundir import RunDir, RunDirFileError, StackState, UnusableState
from harness.emulator.backend import AwsBackend, EndpointBackend, MotoBackend
from harness.emulator.moto_process import EmulatorStateRefused
from harness.postgres.binaries import find_postgres_bin_dir
from harness.postgres.cluster import LocalPostgres, state_dir_for
from harness.runtime.process import RuntimeProcess
from harness.snapshots.keys import snapshot_keys
from harness.snapshots.layers import Restore, SnapshotLayers
from harness.snapshots.store import SnapshotStore, default_root
from harness.terraform.runner import TerraformRunner, check_root_module, find_terraform, source_fingerprint


class Stack:
    def __init__(
        self, settings: HarnessSettings, reporter: Reporter | None = None, detached: bool = True
    ) -> None:
        self.settings = settings
        self.reporter: Reporter = reporter or QuietReporter()
        self.detached = detached
        self.run_dir = settings.run_path
        self.paths = RunDir(self.run_dir)
        self.state_file = self.paths.state_file
        self._lock = FileLock(str(self.paths.lock_file))

    # -- paths and parts ---------------------------------------------------------------------------
    @property
    def terraform_workdir(self) -> Path:
        return self.paths.terraform_workdir

    def var_files(self) -> list[Path]:
        return [self.settings.resolve(path) for path in self.settings.terraform_var_files]

    def fingerprint(self) -> str:
        """What a running stack must match to be reused: Terraform, services, and how the data plane runs."""
        source = self.settings.terraform_path
        terraform = source_fingerprint(source, self.var_files()) if source.is_dir() else "missing"
        services_dir = self.settings.resolve(self.settings.services_dir)
        services = source_fingerprint(services_dir) if services_dir.is_dir() else "missing"
        runtime = (self.settings.runtime, self.settings.time_scale, tuple(self.settings.run_before_services))
        harness_code = source_fingerprint(Path(__file__).parent)  # a changed harness must not reuse old processes
        return f"{terraform}:{services}:{self.settings.backend.value}:{runtime}:{harness_code}"

    def terraform(self, endpoint_url: str) -> TerraformRunner:
        return TerraformRunner(
            source=self.settings.terraform_path,
            workdir=self.terraform_workdir,
            aws_endpoint_url=endpoint_url,
            region=self.settings.region,
            binary=self.settings.terraform,
            mirror=self.settings.terraform_mirror,
            var_files=self.var_files(),
            parallelism=self.settings.terraform_parallelism,
            log_path=self.paths.terraform_log,
            run_dir=self.run_dir,
        )

    @property
    def postgres_state_dir(self) -> Path:
        return state_dir_for(self.paths.postgres_dir)

    def _postgres(self, port: int) -> LocalPostgres:
        return LocalPostgres(
            state_dir=self.postgres_state_dir,
            run_dir=self.run_dir,
            port=port,
            host=self.settings.host,
            bin_dir=self.settings.postgres_bin_dir,
            die_with_parent=not self.detached,
        )

    def _backend(self, restore: Path | None = None) -> AwsBackend:
        if self.settings.backend is Backend.ENDPOINT:
            if not self.settings.aws_endpoint_url:
                raise HarnessError(
                    "HARNESS_BACKEND=endpoint needs an endpoint", "set HARNESS_AWS_ENDPOINT_URL (e.g. http://localhost:4566)"
                )
            return EndpointBackend(self.settings.aws_endpoint_url, self.settings.region)
        return MotoBackend(
            run_dir=self.paths,
            host=self.settings.host,
            port=free_port(self.settings.host),
            die_with_parent=not self.detached,
            time_scale=self.settings.time_scale,
            restore=restore,
        )

    # -- state ---------------------------------------------------------------------------------------
    def load_state(self) -> StackState | None:
        """The state of this run directory's stack; None when there is none, StateFileError when it is unusable."""
        try:
            return self.paths.load_state()
        except UnusableState as exc:
            raise self._state_error(exc.found, exc.newer) from None

    def _state_error(self, found: str, newer: tuple[str, list[str]] | None = None) -> StateFileError:
        alive = len(self.processes())
        if alive:
            fix = (f"{alive} process(es) of this run directory are running and are left alone: `harness down` stops "
                   "them and forgets the state (their data is lost), `harness reap` only stops them")
        else:
            fix = "no process of this run directory runs: `harness down` clears it, `harness up` boots a new stack"
        if newer:
            version, unknown = newer
            return NewerStateFileError(str(self.state_file), version, unknown,
                                       f"use harness {version} or newer with this run directory; otherwise {fix}")
        return StateFileError(str(self.state_file), found, fix)

    def _remove_state_file(self) -> None:
        if self.state_file.is_dir() and not self.state_file.is_symlink():
            shutil.rmtree(self.state_file)
        else:
            self.state_file.unlink(missing_ok=True)

    def _save(self, state: StackState) -> None:
        self.paths.save_state(state)

    def healthy(self, state: StackState) -> bool:
        """The processes of `state` answer (the emulator and PostgreSQL)."""
        try:
            AwsClients(state.aws_endpoint_url, state.region).client("sts").get_caller_identity()
            with psycopg.connect(state.postgres.dsn(), connect_timeout=3) as conn:
                conn.execute("select 1")
        except Exception:
            return False
        if state.runtime:
            try:
                published = self.paths.read_runtime()
            except RunDirFileError:
                return False  # a data plane of another harness: boot anew
            return bool(published and published.ready) and bool(
                processes_running(self.run_dir, "harness.runtime")
            )
        return True

    # -- lifecycle -----------------------------------------------------------------------------------
    def preflight(self) -> None:
        """Everything that can be checked before a process starts, so a bad setup fails in a second, not after
        the apply: the Terraform root module and var files, the terraform and PostgreSQL binaries, the backend."""
        check_root_module(self.settings.terraform_path)
        for given, path in zip(self.settings.terraform_var_files, self.var_files(), strict=True):
            if not path.is_file():
                raise HarnessError(f"the Terraform var file {given} does not exist (looked at {path})",
                                   "fix HARNESS_TERRAFORM_VAR_FILES or --var-file")
        find_terraform(self.settings.terraform)
        find_postgres_bin_dir(self.settings.postgres_bin_dir)
        if self.settings.backend is Backend.ENDPOINT and not self.settings.aws_endpoint_url:
            raise HarnessError(
                "HARNESS_BACKEND=endpoint needs an endpoint", "set HARNESS_AWS_ENDPOINT_URL (e.g. http://localhost:4566)"
            )

    def _check_fixed_ports(self) -> None:
        """Ports the settings fix must be free once this run directory's leftovers are stopped."""
        if self.settings.runtime and self.settings.smtp_port:
            ensure_port_free(self.settings.smtp_port, self.settings.host, "the SES inbound MX (HARNESS_SMTP_PORT)")

    def up(self) -> StackState:
        """Reuse, re-apply or boot. A state file this harness cannot read stops it while processes of the run
        directory are alive (a StateFileError that says how to proceed): it never replaces a stack it cannot see."""
        self.preflight()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        with self._lock:
            try:
                state = self.load_state()
            except StateFileError:
                if self.processes():
                    raise
                state = None  # it describes nothing that runs: boot a new stack over it
            if state is not None and self.healthy(state):
                if state.fingerprint == self.fingerprint():
                    state.reused = True
                    return state
                return self._reapply(state)
            return self._cold_boot()

    def _cold_boot(self) -> StackState:
        started = time.monotonic()
        with self.reporter.phase("reap leftovers"):
            reap(self.run_dir)
            self._remove_state_file()
            self._forget_emulated_state()
        self._check_fixed_ports()
        layers = self.snapshot_layers()
        restore = None
        if layers is not None:
            with self.reporter.phase("snapshot lookup"):
                restore = layers.checkout(self.paths.snapshot_dir)
        try:
            try:
                state = self._boot(layers, restore)
            except EmulatorStateRefused as exc:
                assert layers is not None and restore is not None
                layers.unusable(restore, exc.problem)  # never a half-restored stack: start over, cold
                reap(self.run_dir)
                self._forget_emulated_state()
                state = self._boot(layers, None)
        except BaseException:
            # Ctrl-C or a failure mid-boot: leave nothing running and no half-made state behind.
            reap(self.run_dir)
            self.state_file.unlink(missing_ok=True)
            raise
        finally:
            shutil.rmtree(self.paths.snapshot_dir, ignore_errors=True)
        state.timings = {**self.reporter.timings, "total": time.monotonic() - started}
        self._save(state)
        return state

    def _boot(self, layers: SnapshotLayers | None, restore: Restore | None) -> StackState:
        """Start the processes and bring the cloud to the Terraform: from `restore` when given (no apply when
        it is exact), else by a full apply; save what the store lacks on the way."""
        backend = self._backend(restore.emulator_state if restore else None)
        pg = self._postgres(free_port(self.settings.host))
        early_runtime = None
        if restore is not None and restore.exact and self.settings.runtime:
            # no apply ahead: the data plane imports while the emulator loads, and starts once the state is saved
            early_runtime = RuntimeProcess(self.settings, die_with_parent=not self.detached)
            early_runtime.spawn(wait_for_go=True)
        restoring_db = restore is not None and restore.database is not None
        # PostgreSQL's data directory is made (restored or initialised) while the emulator imports and loads.
        # The server itself starts from this thread: a child dies with the thread that started it
        # (PR_SET_PDEATHSIG), and the pool's thread ends with the `with`.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="postgres") as pool:
            data_ready = pool.submit(self._prepare_postgres, pg, restore if restoring_db else None)
            with self.reporter.phase("emulated AWS ready" + (" (restored)" if restore else "")):
                backend.start(timeout=60)
            with self.reporter.phase("postgres ready" + (" (restored)" if restoring_db else "")):
                data_ready.result()
                pg.start()
        clients = AwsClients(backend.endpoint_url, self.settings.region)
        state = StackState(
            fingerprint="",  # set only once the apply succeeded
            backend=self.settings.backend.value,
            aws_endpoint_url=backend.endpoint_url,
            region=self.settings.region,
            postgres=pg.info,
            rds=[],
            outputs={},
            detached=self.detached,
            owner_pid=os.getpid(),
            booted_at=time.time(),
            runtime=self.settings.runtime,
            snapshot=None if restore is None else {
                "cloud": restore.cloud.key, "changed_files": restore.changed,
                "database": restore.database.key if restore.database else None},
        )
        self._save(state)
        if restore is not None:
            SnapshotLayers.place_terraform(restore, self.terraform_workdir, backend.endpoint_url)
        if restore is not None and restore.exact:
            state.outputs = SnapshotLayers.outputs(restore, backend.endpoint_url)
            self._bind_and_run(state, clients, pg, layers, backend, save_cloud=False, early_runtime=early_runtime)
        else:
            # right after a restore the emulator is exactly what the saved state says: nothing to refresh
            self._apply_and_bind(state, clients, pg, layers=layers, backend=backend, refresh=restore is None)
        if layers is not None and self.settings.runtime and not restoring_db and not layers.has_database():
            with self.reporter.phase("snapshot saved (database)"):
                layers.save_database(pg, self.paths.snapshot_dir / "staging")
                layers.prune()
        return state

    def _reapply(self, state: StackState) -> StackState:
        pg = self._postgres(state.postgres.port)
        clients = AwsClients(state.aws_endpoint_url, state.region)
        self._apply_and_bind(state, clients, pg)
        self._save(state)
        return state

    @staticmethod
    def _prepare_postgres(pg: LocalPostgres, restore: Restore | None) -> None:
        if restore is not None:
            SnapshotLayers.restore_database(restore, pg)
        pg.prepare()

    def _apply_and_bind(
        self, state: StackState, clients: AwsClients, pg: LocalPostgres,
        layers: SnapshotLayers | None = None, backend: AwsBackend | None = None, refresh: bool = True,
    ) -> None:
        tf = self.terraform(state.aws_endpoint_url)
        with self.reporter.phase("terraform init"):
            tf.prepare()
            tf.init(self.reporter.detail)
        with self.reporter.phase("terraform apply"):
            tf.apply(self.reporter.detail, refresh=refresh)
            state.outputs = tf.outputs()
        self._bind_and_run(state, clients, pg, layers, backend, save_cloud=True)

    def _bind_and_run(
        self, state: StackState, clients: AwsClients, pg: LocalPostgres, layers: SnapshotLayers | None,
        backend: AwsBackend | None, save_cloud: bool, early_runtime: RuntimeProcess | None = None,
    ) -> None:
        with self.reporter.phase("bind RDS to postgres"):
            state.rds = bind_rds_instances(clients, pg)
        self._save(state)
        if save_cloud and layers is not None and isinstance(backend, MotoBackend) and not layers.has_cloud():
            # before the data plane starts: the snapshot holds what Terraform made, not what a run did
            with self.reporter.phase("snapshot saved (cloud)"):
                layers.save_cloud(backend, self.terraform_workdir, state.outputs, self.paths.snapshot_dir / "staging")
                layers.prune()
        if early_runtime is not None:
            with self.reporter.phase("data plane (ECS tasks, ALB, SES) running"):
                early_runtime.go()
                early_runtime.wait_ready(self.settings.boot_timeout)
        elif self.settings.runtime:
            self._restart_runtime()
        state.fingerprint = self.fingerprint()

    def snapshot_layers(self) -> SnapshotLayers | None:
        """The snapshot store's layers for this Terraform, or None when snapshots are off or cannot apply."""
        if not self.settings.snapshots or self.settings.backend is not Backend.MOTO:
            return None
        services = self.settings.resolve(self.settings.services_dir)
        keys = snapshot_keys(
            terraform_binary=self.settings.terraform, mirror=self.settings.terraform_mirror,
            source=self.settings.terraform_path, var_files=self.var_files(), region=self.settings.region,
            services_dir=services, run_before_services=self.settings.run_before_services,
            postgres_bin_dir=self.settings.postgres_bin_dir,
        )
        return SnapshotLayers(self.snapshot_store(), keys, self.settings.snapshot_max_bytes, self.reporter.note)

    def snapshot_store(self) -> SnapshotStore:
        root = self.settings.resolve(self.settings.snapshot_dir) if self.settings.snapshot_dir else default_root()
        return SnapshotStore(root)

    def _restart_runtime(self) -> None:
        """The data plane reads the stack's state at start, so a new apply gets a new runtime."""
        terminate(processes_running(self.run_dir, "harness.runtime"), grace=30)
        with self.reporter.phase("data plane (ECS tasks, ALB, SES) running"):
            RuntimeProcess(self.settings, die_with_parent=not self.detached).start(self.settings.boot_timeout)

    def _forget_emulated_state(self) -> None:
        """A new emulator starts empty, so Terraform state and the old cluster describe nothing real."""
        for name in ("terraform.tfstate", "terraform.tfstate.backup"):
            (self.terraform_workdir / name).unlink(missing_ok=True)
        shutil.rmtree(self.postgres_state_dir, ignore_errors=True)
        shutil.rmtree(self.paths.truth_dir, ignore_errors=True)  # data-plane truth of the old processes

    def down(self) -> int:
        """Stop everything this run directory started; returns how many processes were stopped."""
        if not self.run_dir.exists():
            return 0
        with self._lock:
            stopped = reap(self.run_dir)  # by the process marker: works whatever the state file holds
            self._remove_state_file()
            self._forget_emulated_state()
        return stopped

    def processes(self) -> list[int]:
        return [proc.pid for proc in processes_of(self.run_dir)]
