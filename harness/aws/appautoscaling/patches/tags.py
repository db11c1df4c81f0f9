"""Application Auto Scaling scalable targets carry tags.

AWS: ``RegisterScalableTarget`` accepts ``Tags`` when it creates a target (an existing target keeps its
tags; TagResource changes them), and ``ListTagsForResource``/``TagResource``/``UntagResource`` work on
the target's ARN (ResourceNotFoundException for an unknown ARN; at most 50 tags).
Stock moto: ignores ``Tags`` and has none of the three operations, so the provider's read of
``aws_appautoscaling_target`` gets an HTTP 500 and retries until it times out.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from harness.aws.fidelity import FidelityPatch

if TYPE_CHECKING:
    from moto.applicationautoscaling.models import ApplicationAutoscalingBackend, FakeScalableTarget
    from moto.applicationautoscaling.responses import ApplicationAutoScalingResponse

MAX_TAGS = 50
TAGS = "_harness_tags"


def _error(code: str, message: str) -> Exception:
    from moto.core.exceptions import JsonRESTError

    return JsonRESTError(code, message)


def _tags(target: FakeScalableTarget) -> dict[str, str]:
    tags: dict[str, str] = target.__dict__.setdefault(TAGS, {})
    return tags


def _target(backend: ApplicationAutoscalingBackend, arn: str) -> FakeScalableTarget:
    for by_resource in backend.targets.values():
        for target in by_resource.values():
            if target.arn == arn:
                return target
    raise _error("ResourceNotFoundException", f"No scalable target found for ARN: {arn}")


def _check_count(tags: dict[str, str]) -> None:
    if len(tags) > MAX_TAGS:
        raise _error("TooManyTagsException", f"A scalable target can have at most {MAX_TAGS} tags.")


def list_tags_for_resource(self: ApplicationAutoScalingResponse) -> str:
    target = _target(self.applicationautoscaling_backend, self._get_param("ResourceARN"))
    return json.dumps({"Tags": _tags(target)})


def tag_resource(self: ApplicationAutoScalingResponse) -> str:
    target = _target(self.applicationautoscaling_backend, self._get_param("ResourceARN"))
    merged = {**_tags(target), **(self._get_param("Tags") or {})}
    _check_count(merged)
    target.__dict__[TAGS] = merged
    return json.dumps({})


def untag_resource(self: ApplicationAutoScalingResponse) -> str:
    target = _target(self.applicationautoscaling_backend, self._get_param("ResourceARN"))
    for key in self._get_param("TagKeys") or []:
        _tags(target).pop(key, None)
    return json.dumps({})


def _apply() -> None:
    from moto.applicationautoscaling.responses import ApplicationAutoScalingResponse

    original_register = ApplicationAutoScalingResponse.register_scalable_target

    def register_scalable_target(self: ApplicationAutoScalingResponse) -> str:
        body: str = original_register(self)
        tags: dict[str, Any] = self._get_param("Tags") or {}
        target = _target(self.applicationautoscaling_backend, json.loads(body)["ScalableTargetARN"])
        if TAGS not in target.__dict__:  # created by this call
            _check_count(tags)
            target.__dict__[TAGS] = dict(tags)
        return body

    ApplicationAutoScalingResponse.register_scalable_target = register_scalable_target  # type: ignore[method-assign]
    ApplicationAutoScalingResponse.list_tags_for_resource = list_tags_for_resource  # type: ignore[attr-defined]
    ApplicationAutoScalingResponse.tag_resource = tag_resource  # type: ignore[attr-defined]
    ApplicationAutoScalingResponse.untag_resource = untag_resource  # type: ignore[attr-defined]


PATCH = FidelityPatch(
    name="appautoscaling-tags",
    summary="Scalable targets keep the Tags given at registration and support ListTagsForResource/"
    "TagResource/UntagResource; stock moto drops the tags and answers 500, so the provider retries forever.",
    apply=_apply,
)
