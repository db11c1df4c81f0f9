"""Runs the team's Terraform, unchanged, against the emulated AWS.

The source directory is copied into a working directory under the run directory (so nothing is
written into the team's tree), the harness's override file is added beside it, and every command runs
with the harness's own CLI configuration (provider mirror, plugin cache).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.core.clients import emulator_env
from harness.core.reaper import marker_env
from harness.core.errors import HarnessError, MissingBinaryError
from harness.terraform.cli_config import find_provider_mirror, write_cli_config
from harness.terraform.override import OVERRIDE_NAME, render_override, scan_root_module

MIN_VERSION = (1, 5)
_KEEP_IN_WORKDIR = {".terraform", "terraform.tfstate", "terraform.tfstate.backup", ".terraform.lock.hcl"}
_SKIP_FROM_SOURCE = {".terraform", ".terraform.lock.hcl", "localstack_providers_override.tf"}
# An error block runs to the next diagnostic or the end: its title, "with <address>", "on <file> line <n>", detail.
_ERROR_BLOCK = re.compile(r"^Error: .*?(?=^(?:Error|Warning): |\Z)", re.MULTILINE | re.DOTALL)
_HTML_ANSWER = "invalid character '<'"
_OPERATION = re.compile(r"operation error ([\w .-]+?):")

LineSink = Callable[[str], None]


def _describe(diagnostic: dict[str, Any]) -> str:
    where = diagnostic.get("range", {})
    place = f"{where.get('filename', '?')}:{where.get('start', {}).get('line', '?')}"
    detail = f" ({diagnostic['detail']})" if diagnostic.get("detail") else ""
    return f"{place}: {diagnostic['summary']}{detail}"


def render_diagnostic(diagnostic: dict[str, Any], source: Path | None = None) -> str:
    """A Terraform diagnostic whole: title, resource address, file:line (in the source tree), detail."""
    severity = "Warning" if diagnostic.get("severity") == "warning" else "Error"
    lines = [f"{severity}: {diagnostic.get('summary', '').strip()}"]
    if diagnostic.get("address"):
        lines.append(f"  resource: {diagnostic['address']}")
    where = diagnostic.get("range") or {}
    if where.get("filename"):
        filename = str(where["filename"])
        if source is not None and (source / filename).is_file():
            filename = str(source / filename)
        context = (diagnostic.get("snippet") or {}).get("context")
        lines.append(f"  at: {filename}:{where.get('start', {}).get('line', '?')}" + (f" ({context})" if context else ""))
    if diagnostic.get("detail"):
        lines.extend(f"  {line}" if line else "" for line in str(diagnostic["detail"]).strip().splitlines())
    text = "\n".join(lines)
    hint = html_answer_hint(text)
    return f"{text}\n  {hint}" if hint else text


def html_answer_hint(text: str) -> str | None:
    """An SDK that got an HTML page where AWS answers JSON/XML: the emulator has no API for that service."""
    if _HTML_ANSWER not in text:
        return None
    operation = _OPERATION.search(text)
    service = operation.group(1) if operation else "this service"
    return (f"the emulated AWS answered {service} with an HTML page, not an AWS API response: it does not "
            f"implement {service} (the emulator has no {service})")


def _skip(name: str) -> bool:
    return (
        name in _SKIP_FROM_SOURCE
        or name.startswith("terraform.tfstate")
        or name == OVERRIDE_NAME
        or name == "__pycache__"
        or name.endswith((".pyc", ".egg-info"))
    )


def _source_files(source: Path) -> list[tuple[str, Path]]:
    """Every file under `source` that Terraform (or a service build) would read, by relative path, sorted."""
    found = []
    for path in sorted(source.rglob("*")):
        relative = path.relative_to(source)
        if any(_skip(part) for part in relative.parts) or not path.is_file():
            continue
        found.append((str(relative), path))
    return found


def tree_digests(source: Path) -> dict[str, str]:
    """The SHA-256 of each file `source_fingerprint` covers, by relative path."""
    return {name: hashlib.sha256(path.read_bytes()).hexdigest() for name, path in _source_files(source)}


def source_fingerprint(source: Path, var_files: Sequence[Path] = ()) -> str:
    """A hash of every file under `source` that Terraform (or a service build) would read, and the var files."""
    digest = hashlib.sha256()
    for relative, path in _source_files(source):
        digest.update(relative.encode() + b"\0" + path.read_bytes() + b"\0")
    for var_file in var_files:
        digest.update(var_file.read_bytes() if var_file.is_file() else f"missing {var_file}".encode())
    return digest.hexdigest()


def find_terraform(configured: str) -> str:
    found = shutil.which(configured)
    if found is None:
        raise MissingBinaryError(
            f"terraform not found (looked for {configured!r})",
            "install Terraform >= 1.5 or set HARNESS_TERRAFORM to the path of the terraform binary",
        )
    out = subprocess.run([found, "version", "-json"], capture_output=True, text=True, check=False)
    try:
        version = json.loads(out.stdout)["terraform_version"]
    except (json.JSONDecodeError, KeyError) as exc:
        raise MissingBinaryError(
            f"{found} did not report a version", "set HARNESS_TERRAFORM to a working terraform binary"
        ) from exc
    major, minor = (int(part) for part in version.split(".")[:2])
    if (major, minor) < MIN_VERSION:
        raise MissingBinaryError(
            f"terraform {version} at {found} is too old", "install Terraform >= 1.5 or set HARNESS_TERRAFORM"
        )
    return found


def check_root_module(source: Path) -> None:
    if not source.is_dir() or not any(source.glob("*.tf")):
        raise HarnessError(
            f"no Terraform root module at {source}",
            "set HARNESS_TERRAFORM_DIR (or --terraform-dir) to the directory holding your main.tf",
        )


def error_summary(output: str, limit: int = 8000) -> str:
    """The `Error:` blocks of a Terraform run, each whole, or its tail when there are none."""
    plain = "\n".join(re.sub(r"^[╷╵│] ?", "", line) for line in output.splitlines())
    blocks = [block.strip() for block in _ERROR_BLOCK.findall(plain)]
    blocks = [f"{block}\n  {hint}" if (hint := html_answer_hint(block)) else block for block in blocks]
    text = "\n\n".join(blocks) if blocks else "\n".join(plain.splitlines()[-40:])
    return text[-limit:]


@dataclass
class TerraformRunner:
    source: Path
    workdir: Path
    aws_endpoint_url: str
    region: str
    binary: str = "terraform"
    mirror: Path | None = None
    var_files: Sequence[Path] = ()
    parallelism: int = 40
    log_path: Path | None = None
    run_dir: Path | None = None  # terraform and its provider plugins carry this run's marker, for the reaper
    _binary_path: str | None = field(default=None, init=False)

    @property
    def binary_path(self) -> str:
        if self._binary_path is None:
            self._binary_path = find_terraform(self.binary)
        return self._binary_path

    @property
    def cli_config_path(self) -> Path:
        return self.workdir.parent / "terraformrc"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_PROFILE", "AWS_SESSION"))}
        env.update(
            TF_CLI_CONFIG_FILE=str(self.cli_config_path),
            TF_IN_AUTOMATION="1",
            TF_INPUT="0",
            CHECKPOINT_DISABLE="1",
        )
        env.update(emulator_env(self.aws_endpoint_url, self.region))
        if self.run_dir is not None:
            env.update(marker_env(self.run_dir))
        return env

    def prepare(self) -> None:
        """Mirror the source into the working directory, keeping providers and state, and add the override."""
        check_root_module(self.source)
        self.workdir.mkdir(parents=True, exist_ok=True)
        for entry in self.workdir.iterdir():
            if entry.name in _KEEP_IN_WORKDIR:
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        shutil.copytree(
            self.source,
            self.workdir,
            dirs_exist_ok=True,
            ignore=lambda _dir, names: [n for n in names if _skip(n)],
        )
        aliases, has_backend = scan_root_module(self.source)
        override = render_override(aliases, has_backend, self.workdir / "terraform.tfstate")
        (self.workdir / OVERRIDE_NAME).write_text(override)
        write_cli_config(
            self.cli_config_path, find_provider_mirror(self.mirror), self.workdir.parent / "plugin-cache"
        )

    def run(
        self, args: Sequence[str], on_line: LineSink | None = None, ok_codes: Sequence[int] = (0,),
        json_ui: bool = False,
    ) -> subprocess.CompletedProcess[str]:
        """Run terraform; with `json_ui` (a command given `-json`) its messages are shown and logged as text and a
        failure reports each error diagnostic whole."""
        argv = [self.binary_path, *args]
        proc = subprocess.Popen(
            argv,
            cwd=self.workdir,
            env=self.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        lines: list[str] = []
        diagnostics: list[str] = []
        assert proc.stdout is not None
        log = self.log_path.open("a") if self.log_path else None
        try:
            if log:
                log.write(f"$ terraform {' '.join(args)}\n")
            for line in proc.stdout:
                lines.append(line)
                text = line.rstrip("\n")
                if json_ui:
                    text, diagnostic = self._json_message(text)
                    if diagnostic:
                        diagnostics.append(diagnostic)
                if log:
                    log.write(text + "\n")
                if on_line:
                    on_line(text.split("\n", 1)[0])
        finally:
            code = proc.wait()
            if log:
                log.close()
        output = "".join(lines)
        if code not in ok_codes:
            found = "\n\n".join(diagnostics) if diagnostics else error_summary(output)
            raise HarnessError(
                f"terraform {args[0]} failed (exit {code}) in {self.workdir}",
                f"{found}\n(full output: {self.log_path or 'not logged'})",
            )
        return subprocess.CompletedProcess(argv, code, output, "")

    def _json_message(self, line: str) -> tuple[str, str | None]:
        """One line of `terraform ... -json`: its text, and an error diagnostic rendered whole."""
        try:
            message = json.loads(line)
        except json.JSONDecodeError:
            return line, None
        if not isinstance(message, dict):
            return line, None
        diagnostic = message.get("diagnostic") if message.get("type") == "diagnostic" else None
        if isinstance(diagnostic, dict):
            rendered = render_diagnostic(diagnostic, self.source)
            return rendered, rendered if diagnostic.get("severity") == "error" else None
        return str(message.get("@message", line)), None

    def _var_args(self) -> list[str]:
        return [f"-var-file={path.resolve()}" for path in self.var_files]

    @property
    def initialised(self) -> bool:
        return (self.workdir / ".terraform").is_dir()

    def init(self, on_line: LineSink | None = None) -> None:
        self.run(["init", "-input=false", "-no-color"], on_line)

    def _initialised_first(self, on_line: LineSink | None = None) -> None:
        if not self.initialised:
            self.init(on_line)  # a working directory restored from a snapshot has state but no providers

    def validate(self) -> None:
        result = self.run(["validate", "-json", "-no-color"], ok_codes=(0, 1))
        report = json.loads(result.stdout)
        if not report.get("valid", False):
            problems = [_describe(d) for d in report.get("diagnostics", []) if d.get("severity") == "error"]
            raise HarnessError(
                f"the Terraform in {self.source} is not valid",
                "fix these and run again:\n  " + "\n  ".join(problems),
            )

    def apply(self, on_line: LineSink | None = None, refresh: bool = True) -> None:
        """`refresh=False` when the state is known to match the emulated AWS (just restored from a snapshot)."""
        self._initialised_first(on_line)
        self.run(
            ["apply", "-auto-approve", "-input=false", "-no-color", "-json", f"-parallelism={self.parallelism}",
             *([] if refresh else ["-refresh=false"]), *self._var_args()],
            on_line,
            json_ui=True,
        )

    def plan_changes(self) -> str | None:
        """None when the emulated AWS matches the Terraform; otherwise the plan that says what differs."""
        self._initialised_first()
        result = self.run(
            ["plan", "-detailed-exitcode", "-input=false", "-no-color", f"-parallelism={self.parallelism}",
             *self._var_args()],
            ok_codes=(0, 2),
        )
        return None if result.returncode == 0 else result.stdout

    def outputs(self) -> dict[str, object]:
        result = self.run(["output", "-json", "-no-color"])
        return {name: entry.get("value") for name, entry in json.loads(result.stdout or "{}").items()}

    def destroy(self, on_line: LineSink | None = None) -> None:
        self._initialised_first(on_line)
        self.run(
            ["destroy", "-auto-approve", "-input=false", "-no-color", "-json", f"-parallelism={self.parallelism}",
             *self._var_args()],
            on_line,
            json_ui=True,
        )
