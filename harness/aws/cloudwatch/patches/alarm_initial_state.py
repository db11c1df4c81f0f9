"""CloudWatch alarms start in INSUFFICIENT_DATA, and an update leaves the state alone.

AWS (PutMetricAlarm): "When this operation creates an alarm, the alarm state is immediately set to
INSUFFICIENT_DATA. The alarm is then evaluated and its state is set appropriately. [...] When you update
an existing alarm, its state is left unchanged, but the update completely overwrites the previous
configuration of the alarm." The same holds for PutCompositeAlarm.
Stock moto: every alarm is created ``OK``, and PutMetricAlarm on an existing name builds a new alarm, so an
update (any ``terraform apply`` that touches an alarm) resets an ``ALARM`` to ``OK`` and forgets its past.

This patch sets a new alarm's state to INSUFFICIENT_DATA (reason "Unchecked: Initial alarm creation", as
AWS), and carries state value, reason, reason data, timestamps and moto's history list over an update.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from harness.aws.fidelity import FidelityPatch

if TYPE_CHECKING:
    from moto.cloudwatch.models import Alarm, CloudWatchBackend

INITIAL_STATE = "INSUFFICIENT_DATA"
INITIAL_REASON = "Unchecked: Initial alarm creation"
# Alarm attributes that belong to the alarm's state, not to its configuration.
STATE_ATTRIBUTES = (
    "state_value",
    "state_reason",
    "state_reason_data",
    "state_updated_timestamp",
    "state_transitioned_timestamp",
    "history",
)


def _alarm_name(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str | None:
    name = kwargs.get("name", args[0] if args else None)
    return name if isinstance(name, str) else None


def _apply() -> None:
    from moto.cloudwatch.models import CloudWatchBackend

    original = CloudWatchBackend.put_metric_alarm
    if getattr(original, "_harness_initial_state", False):
        return

    def put_metric_alarm(self: CloudWatchBackend, *args: Any, **kwargs: Any) -> Alarm:
        existing = self.alarms.get(_alarm_name(args, kwargs) or "")
        alarm = original(self, *args, **kwargs)
        if existing is None or existing is alarm:
            alarm.state_value = INITIAL_STATE
            alarm.state_reason = INITIAL_REASON
            alarm.state_transitioned_timestamp = alarm.state_updated_timestamp  # type: ignore[attr-defined]
        else:
            for attribute in STATE_ATTRIBUTES:
                if attribute in existing.__dict__:
                    setattr(alarm, attribute, existing.__dict__[attribute])
        return alarm

    put_metric_alarm._harness_initial_state = True  # type: ignore[attr-defined]
    CloudWatchBackend.put_metric_alarm = put_metric_alarm  # type: ignore[method-assign]


PATCH = FidelityPatch(
    name="cloudwatch-alarm-initial-state",
    summary="AWS creates alarms in INSUFFICIENT_DATA and keeps an alarm's state when PutMetricAlarm updates "
    "it; stock moto creates them OK and resets the state (to OK) on every update.",
    apply=_apply,
)
