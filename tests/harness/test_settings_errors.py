"""A bad setting is one line: which setting, what was given, what is allowed — from the CLI and from pytest."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.core.config import load_settings
from harness.core.errors import SettingsError

HARNESS = Path(sys.executable).parent / "harness"

BAD = {
    "HARNESS_TIME_SCALE": ("abc", "HARNESS_TIME_SCALE='abc': a number is required"),
    "HARNESS_TERRAFORM_VAR_FILES": ("notjson", "HARNESS_TERRAFORM_VAR_FILES='notjson': a JSON list is required"),
    "HARNESS_BACKEND": ("foo", "HARNESS_BACKEND='foo': allowed: 'moto' or 'endpoint'"),
    "HARNESS_SMTP_PORT": ("70000", "HARNESS_SMTP_PORT='70000': a number at most 65535 is required"),
    "HARNESS_RUNTIME": ("maybe", "HARNESS_RUNTIME='maybe': true or false is required"),
    "HARNESS_ECS_DRIVER": ("docker", "HARNESS_ECS_DRIVER='docker': allowed: 'process' or 'container'"),
}


def test_the_container_driver_is_refused_until_it_exists(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARNESS_ECS_DRIVER", "container")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert caught.value.problems == [
        "HARNESS_ECS_DRIVER='container': the container driver is not available yet (scripts/bootstrap prepares its"
        " Docker engine and base images); unset HARNESS_ECS_DRIVER to run the tasks as processes"
    ]
    monkeypatch.setenv("HARNESS_ECS_DRIVER", "process")
    assert load_settings().ecs_driver == "process"


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HARNESS_")}
    return {**env, **extra}


@pytest.mark.parametrize("variable", sorted(BAD))
def test_each_bad_variable_is_one_line(monkeypatch: pytest.MonkeyPatch, variable: str) -> None:
    value, line = BAD[variable]
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert caught.value.problems == [line] or caught.value.problems[0].startswith(line)


def test_every_bad_variable_is_reported_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable, (value, _line) in BAD.items():
        monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert sorted(problem.split("=")[0] for problem in caught.value.problems) == sorted(BAD)


def test_a_run_dir_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    with pytest.raises(SettingsError) as caught:
        load_settings({"project_dir": tmp_path, "run_dir": Path("afile")}, {"run_dir": "--run-dir"})
    assert caught.value.problems == [
        "--run-dir='afile': that is a file; a directory is required (the run directory holds the stack's state)"
    ]
    with pytest.raises(SettingsError, match=r"afile is a file; a directory is required"):
        load_settings({"project_dir": tmp_path, "run_dir": Path("afile/run")})


def test_var_files_as_a_json_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARNESS_TERRAFORM_VAR_FILES", '["a.tfvars", "b.tfvars"]')
    assert [str(path) for path in load_settings().terraform_var_files] == ["a.tfvars", "b.tfvars"]


@pytest.mark.parametrize("variable", sorted(BAD))
@pytest.mark.parametrize("command", ["status", "up", "down"])
def test_the_cli_prints_one_line_and_exits_2(tmp_path: Path, variable: str, command: str) -> None:
    value, line = BAD[variable]
    result = subprocess.run([str(HARNESS), command, "--run-dir", str(tmp_path / "run")],
                            env=_env(**{variable: value}), capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[0].startswith(f"error: {line}")
    assert len(result.stderr.strip().splitlines()) == 1


def test_the_cli_names_the_flag_it_was_given(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    result = subprocess.run([str(HARNESS), "status", "--run-dir", str(tmp_path / "afile")], env=_env(),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip() == (f"error: --run-dir='{tmp_path / 'afile'}': that is a file; a directory is "
                                     "required (the run directory holds the stack's state)")


def test_pytest_stops_with_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "test_nothing.py").write_text("def test_nothing():\n    pass\n")
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
                            env=_env(HARNESS_BACKEND="foo"), capture_output=True, text=True, timeout=120,
                            cwd=tmp_path)
    assert result.returncode == pytest.ExitCode.USAGE_ERROR, result.stdout + result.stderr
    assert "HARNESS_BACKEND='foo': allowed: 'moto' or 'endpoint'" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr
