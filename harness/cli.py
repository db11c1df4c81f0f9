"""`harness`: boot, inspect and stop the local cloud."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from harness.aws.cloudwatch.status import status_rows
from harness.core.config import Backend, HarnessSettings, load_settings
from harness.core.errors import HarnessError, SettingsError
from harness.core.progress import ConsoleReporter
from harness.core.rundir import RunDirFileError, RuntimeInfo, StackState
from harness.snapshots.layers import describe
from harness.stack import Stack
from harness.testing.handle import StackHandle

app = typer.Typer(add_completion=False, no_args_is_help=True, help="mailstack local cloud")
console = Console(width=200, emoji=False) if not sys.stdout.isatty() else Console(emoji=False)
err = Console(stderr=True, emoji=False)

RunDir = Annotated[Path | None, typer.Option("--run-dir", help="state directory (default .harness)")]
TfDir = Annotated[Path | None, typer.Option("--terraform-dir", help="Terraform root module (default terraform)")]


# The option each setting can come from, so that a bad value is reported under the name the user typed.
_FLAGS = {"run_dir": "--run-dir", "terraform_dir": "--terraform-dir", "backend": "--backend",
          "aws_endpoint_url": "--aws-endpoint-url", "terraform_var_files": "--var-file"}


def _settings(run_dir: Path | None = None, terraform_dir: Path | None = None, **extra: object) -> HarnessSettings:
    """The settings, or one line per bad setting and exit 2 (a usage error)."""
    overrides: dict[str, object] = {k: v for k, v in extra.items() if v is not None}
    if run_dir is not None:
        overrides["run_dir"] = run_dir
    if terraform_dir is not None:
        overrides["terraform_dir"] = terraform_dir
    try:
        return load_settings(overrides, _FLAGS)
    except SettingsError as exc:
        for problem in exc.problems:
            err.print(f"[red]error:[/] {escape(problem)}", soft_wrap=True)
        raise typer.Exit(code=2) from None


def _running(stack: Stack) -> StackState:
    state = stack.load_state()
    if state is None or not stack.healthy(state):
        stack.paths.read_runtime()  # the data plane of another harness is a RunDirFileError that says so
        raise HarnessError("no local cloud is running here", "start one with `harness up`")
    return state


def _fail(exc: HarnessError) -> None:
    err.print(f"[red]error:[/] {escape(exc.problem)}", soft_wrap=True)
    if exc.fix:
        err.print(f"[yellow]fix:[/] {escape(exc.fix)}", soft_wrap=True)
    raise typer.Exit(code=1)


@app.command()
def up(
    run_dir: RunDir = None,
    terraform_dir: TfDir = None,
    backend: Annotated[Backend | None, typer.Option(help="moto (default) or endpoint")] = None,
    aws_endpoint_url: Annotated[str | None, typer.Option(help="for --backend endpoint")] = None,
    var_file: Annotated[list[Path] | None, typer.Option("--var-file", help="terraform -var-file")] = None,
) -> None:
    """Boot the local cloud (or reuse the running one) and apply the Terraform to it."""
    settings = _settings(run_dir, terraform_dir, backend=backend, aws_endpoint_url=aws_endpoint_url,
                         terraform_var_files=var_file or None)
    stack = Stack(settings, ConsoleReporter(err), detached=True)
    try:
        state = stack.up()
    except HarnessError as exc:
        _fail(exc)
        return
    except KeyboardInterrupt:
        err.print("[yellow]interrupted: everything the boot started was stopped[/]")
        raise typer.Exit(code=130) from None
    verb = "reused the running local cloud (Terraform unchanged)" if state.reused else "local cloud is up"
    err.print(f"[green]{verb}[/] — `harness status` lists endpoints, `eval $(harness env)` points tools at it")


@app.command()
def down(run_dir: RunDir = None) -> None:
    """Stop every process of the local cloud and forget its state (whatever the state file holds)."""
    try:
        stopped = Stack(_settings(run_dir)).down()
    except HarnessError as exc:
        _fail(exc)
        return
    err.print(f"stopped {stopped} process(es)")


@app.command()
def status(
    run_dir: RunDir = None,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable")] = False,
) -> None:
    """Every endpoint a person needs: AWS, PostgreSQL, RDS bindings, Terraform outputs."""
    stack = Stack(_settings(run_dir))
    try:
        state = _running(stack)
    except HarnessError as exc:
        _fail(exc)
        return
    if as_json:
        console.print_json(state.to_json())
        return
    table = Table(title="mailstack local cloud", show_header=False)
    table.add_column(no_wrap=True)
    table.add_column(overflow="fold")
    table.add_row("AWS endpoint", f"{state.aws_endpoint_url} ({state.backend}, {state.region})")
    table.add_row("PostgreSQL", state.postgres.dsn())
    for rds in state.rds:
        table.add_row(
            f"RDS {rds.identifier}",
            f"{rds.emulated_host}:{rds.emulated_port} → {rds.host}:{rds.port}/{rds.dbname} (user {rds.username})",
        )
    try:
        runtime = stack.paths.read_runtime() or RuntimeInfo(ready=False)
    except RunDirFileError as exc:
        _fail(exc)
        return
    if runtime.smtp:
        table.add_row("SES inbound (SMTP)", f"{runtime.smtp.host}:{runtime.smtp.port}")
    if runtime.alb:
        for listener in runtime.alb.listeners:
            table.add_row(f"ALB {listener.load_balancer} :{listener.port}",
                          f"{listener.local_url}  ({listener.public_url})")
        table.add_row("harness CA (verify TLS)", runtime.alb.ca_bundle)
    for service in runtime.ecs.services.values() if runtime.ecs else ():
        table.add_row(f"ECS {service.serviceName}",
                      f"running {service.runningCount}/{service.desiredCount} ({service.taskDefinition})")
    for label, value in status_rows(runtime.cloudwatch):
        table.add_row(label, value)
    table.add_row("processes", " ".join(str(pid) for pid in stack.processes()))
    table.add_row("run directory", str(stack.run_dir))
    table.add_row("booted from", _booted_from(state))
    for name, value in sorted(state.outputs.items()):
        table.add_row(f"output {name}", value if isinstance(value, str) else json.dumps(value))
    console.print(table)


@app.command()
def env(run_dir: RunDir = None) -> None:
    """Shell exports so that aws, psql and boto3 talk to the local cloud: eval "$(harness env)"."""
    stack = Stack(_settings(run_dir))
    try:
        state = _running(stack)
    except HarnessError as exc:
        _fail(exc)
        return
    from harness.core.clients import emulator_env

    exports = emulator_env(state.aws_endpoint_url, state.region)
    info = state.postgres
    exports.update(PGHOST=info.host, PGPORT=str(info.port), PGUSER=info.superuser, PGPASSWORD=info.password,
                   PGDATABASE="postgres")
    if state.rds:
        exports["PGDATABASE"] = state.rds[0].dbname
    for key, value in exports.items():
        sys.stdout.write(f"export {key}={shlex.quote(value)}\n")


@app.command()
def plan(run_dir: RunDir = None) -> None:
    """Drift check: exit 0 when the emulated AWS matches the Terraform, 2 (and the plan) when it does not."""
    stack = Stack(_settings(run_dir))
    try:
        state = _running(stack)
        runner = stack.terraform(state.aws_endpoint_url)
        runner.prepare()
        changes = runner.plan_changes()
    except HarnessError as exc:
        _fail(exc)
        return
    if changes:
        console.print(changes)
        raise typer.Exit(code=2)
    err.print("[green]no changes[/]: the emulated AWS matches the Terraform")


@app.command()
def reap(
    all_runs: Annotated[bool, typer.Option("--all", help="every harness run on this machine")] = False,
    run_dir: RunDir = None,
) -> None:
    """Stop processes left behind by crashed runs."""
    from harness.core import reaper

    if all_runs:
        total = 0
        for directory in reaper.all_harness_processes():
            total += reaper.reap(Path(directory))
    else:
        total = reaper.reap(_settings(run_dir).run_path)
    err.print(f"stopped {total} process(es)")


@app.command()
def demo(
    eml: Annotated[Path, typer.Argument(help="sample mail to push through")] = Path("fixtures/mail/attachments.eml"),
    run_dir: RunDir = None,
    timeout: Annotated[float, typer.Option(help="seconds to wait for the mail to be ingested")] = 60.0,
) -> None:
    """The main job: boot (or reuse) the local cloud, send a sample mail over SMTP to a domain the
    Terraform declares, wait until the worker ingested it, and read it back through the ALB over HTTPS."""
    import time
    import uuid

    from harness.testing.smtp_client import send_mail

    settings = _settings(run_dir)
    try:
        Stack(settings, ConsoleReporter(err), detached=True).up()
        handle = StackHandle.attach(settings)
        recipient = f"demo-{uuid.uuid4().hex[:8]}@{handle.mail_domains[0]}"
        started = time.monotonic()
        sent = send_mail(*handle.smtp, eml=settings.resolve(eml), to=[recipient])
        err.print(f"SMTP accepted the mail for {recipient}: SES message id {sent.message_id}")
        with handle.api() as api:
            messages: list[dict[str, object]] = []
            while time.monotonic() - started < timeout and not messages:
                listing = api.get(f"/v1/inboxes/{recipient}/messages")
                messages = listing.json().get("messages", []) if listing.status_code == 200 else []
                if not messages:
                    time.sleep(0.2)
            if not messages:
                raise HarnessError(f"the mail for {recipient} was not ingested within {timeout:.0f}s",
                                   "look at the worker's log (`harness status` → run directory, ecs/tasks/)")
            latency = time.monotonic() - started
            message = api.get(f"/v1/messages/{messages[0]['id']}").json()
    except HarnessError as exc:
        _fail(exc)
        return
    console.print_json(json.dumps(message, default=str))
    err.print(f"[green]ingested and read back through the ALB (TLS verified against the harness CA) "
              f"{latency:.2f}s after SMTP[/]")


@app.command("send-mail")
def send_mail_command(
    eml: Annotated[Path | None, typer.Argument(help=".eml file to send unchanged")] = None,
    to: Annotated[list[str] | None, typer.Option("--to", help="envelope recipient (repeat)")] = None,
    sender: Annotated[str | None, typer.Option("--from", help="envelope sender")] = None,
    subject: Annotated[str, typer.Option(help="subject of a composed mail")] = "",
    body: Annotated[str, typer.Option(help="text body of a composed mail")] = "",
    attach: Annotated[list[Path] | None, typer.Option("--attach", help="attachment (repeat)")] = None,
    run_dir: RunDir = None,
) -> None:
    """Send a mail to the local SES inbound MX: an .eml file, or one composed from the options."""
    from harness.testing.smtp_client import send_mail

    try:
        handle = StackHandle.attach(_settings(run_dir))
        host, port = handle.smtp
        result = send_mail(host, port, eml=eml, to=to or (), sender=sender, subject=subject, body=body,
                           attachments=attach or ())
    except HarnessError as exc:
        _fail(exc)
        return
    console.print(f"accepted {', '.join(result.accepted)}: SES message id {result.message_id}")
    for rcpt, (code, reason) in result.refused.items():
        err.print(f"[yellow]refused[/] {rcpt}: {code} {reason}")


alb_app = typer.Typer(help="the ALB data plane")
app.add_typer(alb_app, name="alb")


@alb_app.command("health")
def alb_health(run_dir: RunDir = None) -> None:
    """Target health per target group, as the data plane's health checks see it."""
    try:
        groups = StackHandle.attach(_settings(run_dir)).alb.target_groups
    except HarnessError as exc:
        _fail(exc)
        return
    table = Table(title="ALB target health")
    for column in ("target group", "target", "state", "reason"):
        table.add_column(column)
    for group in groups:
        if not group.targets:
            table.add_row(group.name, "-:", "no targets", "")
        for target in group.targets:
            table.add_row(group.name, f"{target.id}:{target.port}", target.state, target.reason or "")
    console.print(table)


snapshot_app = typer.Typer(help="the snapshot store (restores a cold boot in seconds)")
app.add_typer(snapshot_app, name="snapshot")


@snapshot_app.command("list")
def snapshot_list(as_json: Annotated[bool, typer.Option("--json", help="machine-readable")] = False) -> None:
    """Every snapshot in the store, most recently used first; `*` marks the ones this Terraform would restore."""
    stack = Stack(_settings())
    try:
        layers = stack.snapshot_layers()
        entries = stack.snapshot_store().entries()
    except HarnessError as exc:
        _fail(exc)
        return
    current = {layers.keys.cloud, layers.keys.database} if layers else set()
    if as_json:
        console.print_json(json.dumps([{**describe(snap), "current": snap.key in current} for snap in entries]))
        return
    table = Table(title=f"snapshots in {stack.snapshot_store().root}")
    for column in ("", "key", "kind", "size", "created", "last used"):
        table.add_column(column)
    for snap in entries:
        table.add_row("*" if snap.key in current else "", snap.key[:16], snap.kind, f"{snap.size / 1e6:.1f} MB",
                      _when(snap.created_at), _when(snap.last_used))
    console.print(table)


@snapshot_app.command("key")
def snapshot_key(as_json: Annotated[bool, typer.Option("--json", help="every key")] = False) -> None:
    """The cloud snapshot key of this Terraform (for a CI cache step's key)."""
    try:
        layers = Stack(_settings()).snapshot_layers()
    except HarnessError as exc:
        _fail(exc)
        return
    if layers is None:
        _fail(HarnessError("snapshots are off (HARNESS_SNAPSHOTS=false or a backend the harness does not run)",
                           "unset HARNESS_SNAPSHOTS and use the moto backend"))
        return
    if as_json:
        keys = layers.keys
        console.print_json(json.dumps({"cloud": keys.cloud, "database": keys.database,
                                       "compatibility": keys.compatibility}))
    else:
        console.print(layers.keys.cloud)


@snapshot_app.command("save")
def snapshot_save() -> None:
    """Make sure the store holds this Terraform's snapshot: boot it in a scratch run directory (restoring the
    nearest snapshot when there is one), save it, stop it. A CI step before the cache is saved."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="harness-snapshot-") as scratch:
        stack = Stack(_settings(Path(scratch)), ConsoleReporter(err), detached=False)
        try:
            state = stack.up()
        except HarnessError as exc:
            _fail(exc)
            return
        finally:
            stack.down()
    restored = (state.snapshot or {}).get("changed_files") == 0
    err.print("[green]the store already held this snapshot[/]" if restored else "[green]snapshot saved[/]")


@snapshot_app.command("prune")
def snapshot_prune(
    max_bytes: Annotated[int | None, typer.Option(help="cap (default HARNESS_SNAPSHOT_MAX_BYTES)")] = None,
    all_entries: Annotated[bool, typer.Option("--all", help="remove every snapshot")] = False,
) -> None:
    """Remove least recently used snapshots until the store is under its cap (and writers' leftovers)."""
    settings = _settings()
    store = Stack(settings).snapshot_store()
    removed = store.prune(0 if all_entries else (settings.snapshot_max_bytes if max_bytes is None else max_bytes))
    err.print(f"removed {len(removed)} snapshot(s), {sum(s.size for s in removed) / 1e6:.1f} MB; "
              f"{store.size() / 1e6:.1f} MB left in {store.root}")


def _booted_from(state: StackState) -> str:
    snapshot = state.snapshot
    if not snapshot:
        return "a full terraform apply (no snapshot)"
    database = f", database {str(snapshot['database'])[:12]}" if snapshot.get("database") else ""
    changed = snapshot.get("changed_files", 0)
    how = "exact" if changed == 0 else f"nearest, {changed} Terraform file(s) differed and were applied"
    return f"snapshot {str(snapshot['cloud'])[:12]} ({how}){database}"


def _when(timestamp: float) -> str:
    import datetime

    return datetime.datetime.fromtimestamp(timestamp, tz=datetime.UTC).strftime("%Y-%m-%d %H:%M:%S")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
