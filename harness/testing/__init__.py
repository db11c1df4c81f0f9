"""What scenario suites drive the local cloud with: alarm watching (`alarms`) and ECS control and faults
(`ecs`). The pytest plugin turns each into a fixture; both also work outside pytest."""

from harness.testing.alarms import AlarmWatch, PagerEndpoint
from harness.testing.ecs import EcsControl

__all__ = ["AlarmWatch", "EcsControl", "PagerEndpoint"]
