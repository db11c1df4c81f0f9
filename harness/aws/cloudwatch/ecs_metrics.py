"""ECS/ContainerInsights service metrics from the ECS runner's snapshot.

Container Insights publishes RunningTaskCount, PendingTaskCount and DesiredTaskCount per (ClusterName,
ServiceName) once a minute — only for clusters whose ``containerInsights`` setting is ``enabled`` or
``enhanced``, which this source reads back from the emulator (DescribeClusters) on every collection. A
service keeps reporting (0 running) while it exists, so a stopped service trips a RunningTaskCount alarm.
"""

from __future__ import annotations

from typing import Any, Protocol

from harness.aws.cloudwatch.sink import Datum

NAMESPACE = "ECS/ContainerInsights"
INSIGHTS_ON = ("enabled", "enhanced")


class EcsSnapshotSource(Protocol):
    def snapshot(self) -> dict[str, Any]: ...


def cluster_name(cluster_arn: str) -> str:
    return cluster_arn.rsplit("/", 1)[-1].rsplit(":", 1)[-1]


class EcsMetrics:
    name = "ecs"

    def __init__(self, runner: EcsSnapshotSource, ecs: Any) -> None:
        self.runner = runner
        self.ecs = ecs
        self.clusters_without_insights: list[str] = []

    def insights_clusters(self, cluster_arns: list[str]) -> set[str]:
        enabled: set[str] = set()
        without: list[str] = []
        for start in range(0, len(cluster_arns), 100):
            described = self.ecs.describe_clusters(clusters=cluster_arns[start : start + 100], include=["SETTINGS"])
            for cluster in described.get("clusters", []):
                settings = {s.get("name"): s.get("value") for s in cluster.get("settings", [])}
                if settings.get("containerInsights") in INSIGHTS_ON:
                    enabled.add(cluster["clusterArn"])
                else:
                    without.append(cluster.get("clusterName") or cluster_name(cluster["clusterArn"]))
        self.clusters_without_insights = sorted(without)
        return enabled

    def collect(self) -> list[Datum]:
        services = dict(self.runner.snapshot().get("services", {}))
        clusters = sorted({str(s["clusterArn"]) for s in services.values() if s.get("clusterArn")})
        enabled = self.insights_clusters(clusters) if clusters else set()
        datums: list[Datum] = []
        for service in services.values():
            if service.get("clusterArn") not in enabled:
                continue
            dimensions = {"ClusterName": cluster_name(str(service["clusterArn"])),
                          "ServiceName": str(service["serviceName"])}
            for metric, key in (("RunningTaskCount", "runningCount"), ("PendingTaskCount", "pendingCount"),
                                ("DesiredTaskCount", "desiredCount")):
                datums.append(Datum(NAMESPACE, metric, dimensions, "Count", float(service.get(key) or 0)))
        return datums
