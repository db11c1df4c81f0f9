"""Metrics counters: cumulative by default, reset on request, JSON-able, AWS dimension values."""

from __future__ import annotations

import json

from harness.aws.elbv2.metrics import MetricsRecorder

LB = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web/50dc6c495c0c9188"
TG = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/api/73e2d6bc24d8a067"
IDLE_TG = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/idle/0000000000000000"


def test_counters_dimensions_and_reset() -> None:
    metrics = MetricsRecorder()
    metrics.count(LB, "RequestCount", amount=3)
    metrics.count_target_group(LB, TG, "RequestCount", amount=2)
    metrics.count(LB, "HTTPCode_Target_2XX_Count", TG, amount=2)
    metrics.response_time(LB, TG, 0.25)
    metrics.response_time(LB, TG, 0.05)
    snap = json.loads(json.dumps(metrics.snapshot(known=[(IDLE_TG, LB)], host_counts={TG: (2, 1)})))
    (lb,) = snap["load_balancers"]
    assert lb["dimensions"] == {"LoadBalancer": "app/web/50dc6c495c0c9188"}
    assert lb["counters"]["RequestCount"] == 3 and lb["counters"]["HTTPCode_Target_2XX_Count"] == 2
    by_arn = {tg["arn"]: tg for tg in snap["target_groups"]}
    api = by_arn[TG]
    assert api["dimensions"] == {
        "TargetGroup": "targetgroup/api/73e2d6bc24d8a067",
        "LoadBalancer": "app/web/50dc6c495c0c9188",
    }
    assert api["counters"]["RequestCount"] == 2
    rt = api["TargetResponseTime"]
    assert (rt["SampleCount"], rt["Minimum"], rt["Maximum"]) == (2, 0.05, 0.25)
    assert abs(rt["Sum"] - 0.3) < 1e-9 and len(rt["samples"]) == 2
    assert (api["HealthyHostCount"], api["UnHealthyHostCount"]) == (2, 1)
    assert by_arn[IDLE_TG]["counters"]["RequestCount"] == 0  # known groups listed even without traffic
    assert snap["timestamp"] >= snap["period_start"]

    assert metrics.snapshot()["load_balancers"][0]["counters"]["RequestCount"] == 3  # cumulative
    first = metrics.snapshot(reset=True)
    after = metrics.snapshot()
    assert after["load_balancers"] == [] and after["period_start"] >= first["timestamp"]
