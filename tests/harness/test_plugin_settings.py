"""The pytest plugin reads the same settings as `harness up`: `--harness-time-scale` defaults to the setting
(HARNESS_TIME_SCALE, else the settings class's default), and a flag overrides it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.core.config import HarnessSettings

PROBE = '''
import os
from pathlib import Path


def test_time_scale(harness_settings):
    Path(os.environ["PROBE_OUT"]).write_text(repr(harness_settings.time_scale))
'''


@pytest.mark.parametrize(
    ("environment", "flags", "expected"),
    [
        ({}, [], HarnessSettings.model_fields["time_scale"].default),
        ({"HARNESS_TIME_SCALE": "7"}, [], 7.0),
        ({"HARNESS_TIME_SCALE": "7"}, ["--harness-time-scale", "3"], 3.0),
    ],
    ids=["default", "environment", "flag"],
)
def test_the_sessions_time_scale_is_the_setting(tmp_path: Path, environment: dict[str, str], flags: list[str],
                                                expected: float) -> None:
    (tmp_path / "test_probe.py").write_text(PROBE)
    probe = tmp_path / "scale"
    env = {name: value for name, value in os.environ.items() if not name.startswith("HARNESS_")}
    env.update(environment, PROBE_OUT=str(probe), HARNESS_RUN_DIR=str(tmp_path / "run"))
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *flags],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert float(probe.read_text()) == expected
