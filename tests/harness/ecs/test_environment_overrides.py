"""EcsRunner(environment_overrides=...): set last in every container's environment."""

from __future__ import annotations

from tests.harness.ecs.conftest import EcsWorld, wait_for
from tests.harness.ecs.test_runner import _running, _try


def test_overrides_win_over_the_task_definition_and_reach_every_task(world: EcsWorld):
    task_def = world.register("echo", env={"SNS_TRUSTED_CERT_URL_PATTERN": "^https://sns\\.amazonaws\\.com/",
                                           "KEEP": "task-def"})
    world.service("echo", task_def, desired=2)
    overrides = {"SNS_TRUSTED_CERT_URL_PATTERN": "^http://127\\.0\\.0\\.1:4566/_harness/sns/x\\.pem$",
                 "SNS_TRUSTED_SUBSCRIBE_URL_PATTERN": "^http://127\\.0\\.0\\.1:4566/\\?Action=ConfirmSubscription&"}
    runner = world.runner(environment_overrides=overrides).start()
    tasks = _running(runner, "echo", 2)
    for task in tasks:
        env = wait_for(lambda task=task: _try(world, task.ip, "/env"), 10, "the echo server").json()
        assert {k: env[k] for k in overrides} == overrides
        assert env["KEEP"] == "task-def" and env["BIND_HOST"] == task.ip


def test_no_overrides_by_default(world: EcsWorld):
    task_def = world.register("echo", env={"SNS_TRUSTED_CERT_URL_PATTERN": "from-task-def"})
    world.service("echo", task_def, desired=1)
    [task] = _running(world.runner().start(), "echo", 1)
    env = wait_for(lambda: _try(world, task.ip, "/env"), 10, "the echo server").json()
    assert env["SNS_TRUSTED_CERT_URL_PATTERN"] == "from-task-def"
