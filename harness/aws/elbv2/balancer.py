"""Choosing where a forwarded request goes: a target group by weight, then a target round robin."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from harness.aws.elbv2.model import Target, WeightedTargetGroup


class RoundRobin:
    """Round robin over whatever targets are routable right now, one cursor per target group."""

    def __init__(self) -> None:
        self._cursor: dict[str, int] = {}

    def pick(self, target_group_arn: str, candidates: Sequence[Target]) -> Target | None:
        if not candidates:
            return None
        index = self._cursor.get(target_group_arn, 0)
        self._cursor[target_group_arn] = index + 1
        return sorted(candidates)[index % len(candidates)]


class WeightedChooser:
    """Smooth weighted round robin across the target groups of one forward action.

    Deterministic (3:1 weights give a a b a a a b a ...); groups with weight 0 or without a routable
    target are skipped, so traffic shifts to the groups that can serve it.
    """

    def __init__(self) -> None:
        self._current: dict[tuple[WeightedTargetGroup, ...], dict[str, int]] = {}

    def pick(self, groups: tuple[WeightedTargetGroup, ...], has_capacity: Callable[[str], bool]) -> str | None:
        if len(groups) == 1:
            return groups[0].target_group_arn if has_capacity(groups[0].target_group_arn) else None
        eligible = [g for g in groups if g.weight > 0 and has_capacity(g.target_group_arn)]
        if not eligible:
            return None
        current = self._current.setdefault(groups, {})
        total = sum(g.weight for g in eligible)
        for g in eligible:
            current[g.target_group_arn] = current.get(g.target_group_arn, 0) + g.weight
        chosen = max(eligible, key=lambda g: current[g.target_group_arn])
        current[chosen.target_group_arn] -= total
        return chosen.target_group_arn
