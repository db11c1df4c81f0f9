"""The ALB and ECS metric sources over fake data planes (the SQS source is tested against moto)."""

from __future__ import annotations

from typing import Any

from harness.aws.cloudwatch.alb_metrics import AlbMetrics
from harness.aws.cloudwatch.ecs_metrics import EcsMetrics

LB = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/api/50dc6c495c0c9188"
TG = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/api/73e2d6bc24d8a067"


class FakeAlb:
    def __init__(self) -> None:
        self.resets = 0

    def metrics_snapshot(self, reset: bool = False) -> dict[str, Any]:
        self.resets += reset
        return {
            "namespace": "AWS/ApplicationELB",
            "load_balancers": [{
                "arn": LB,
                "dimensions": {"LoadBalancer": "app/api/50dc6c495c0c9188"},
                "counters": {"RequestCount": 12, "HTTPCode_Target_5XX_Count": 11, "HTTPCode_ELB_5XX_Count": 0},
                "TargetResponseTime": {"SampleCount": 12, "Sum": 0.6, "Minimum": 0.01, "Maximum": 0.2},
            }],
            "target_groups": [{
                "arn": TG,
                "dimensions": {"TargetGroup": "targetgroup/api/73e2d6bc24d8a067",
                               "LoadBalancer": "app/api/50dc6c495c0c9188"},
                "counters": {"RequestCount": 0},
                "TargetResponseTime": {"SampleCount": 0, "Sum": 0.0, "Minimum": None, "Maximum": None},
                "HealthyHostCount": 2,
                "UnHealthyHostCount": 0,
            }],
        }


def test_alb_publishes_non_zero_counters_response_times_and_host_counts() -> None:
    alb = FakeAlb()
    datums = {(d.name, tuple(sorted(d.dimensions))): d for d in AlbMetrics(alb).collect()}
    assert alb.resets == 1
    lb, tg = ("LoadBalancer",), ("LoadBalancer", "TargetGroup")
    assert datums[("HTTPCode_Target_5XX_Count", lb)].value == 11.0
    assert ("HTTPCode_ELB_5XX_Count", lb) not in datums  # zero: not published, like ELB
    assert ("RequestCount", tg) not in datums
    assert datums[("TargetResponseTime", lb)].statistics == {"SampleCount": 12.0, "Sum": 0.6, "Minimum": 0.01,
                                                             "Maximum": 0.2}
    assert ("TargetResponseTime", tg) not in datums
    assert datums[("HealthyHostCount", tg)].value == 2.0
    assert datums[("UnHealthyHostCount", tg)].value == 0.0
    assert all(d.namespace == "AWS/ApplicationELB" for d in datums.values())


class FakeRunner:
    def snapshot(self) -> dict[str, Any]:
        return {"services": {
            "svc/worker": {"serviceName": "mailstack-worker", "desiredCount": 0, "runningCount": 1,
                           "pendingCount": 0, "clusterArn": "arn:aws:ecs:us-east-1:123456789012:cluster/mailstack"},
            "svc/other": {"serviceName": "other", "desiredCount": 1, "runningCount": 1, "pendingCount": 0,
                          "clusterArn": "arn:aws:ecs:us-east-1:123456789012:cluster/plain"},
        }}


class FakeEcs:
    def describe_clusters(self, clusters: list[str], include: list[str]) -> dict[str, Any]:
        assert include == ["SETTINGS"]
        def insights(arn: str) -> str:
            return "enabled" if arn.endswith("mailstack") else "disabled"

        return {"clusters": [
            {"clusterArn": arn, "clusterName": arn.rsplit("/", 1)[-1],
             "settings": [{"name": "containerInsights", "value": insights(arn)}]}
            for arn in clusters
        ]}


def test_ecs_publishes_task_counts_for_clusters_with_container_insights() -> None:
    source = EcsMetrics(FakeRunner(), FakeEcs())
    datums = {d.name: d for d in source.collect()}
    assert set(datums) == {"RunningTaskCount", "PendingTaskCount", "DesiredTaskCount"}
    assert datums["RunningTaskCount"].dimensions == {"ClusterName": "mailstack", "ServiceName": "mailstack-worker"}
    assert datums["RunningTaskCount"].value == 1.0 and datums["DesiredTaskCount"].value == 0.0
    assert datums["RunningTaskCount"].namespace == "ECS/ContainerInsights"
    assert source.clusters_without_insights == ["plain"]
