"""CloudWatch for the local cloud: metric publishers, the alarm evaluator, and the emulation running both.

* ``periods`` — scaled periods: the real-time window a (Terraform) period lasts under ``time_scale``;
* ``sink`` — PutMetricData batching; ``sqs_metrics``, ``alb_metrics``, ``ecs_metrics`` — what AWS/SQS,
  AWS/ApplicationELB and ECS/ContainerInsights publish, read from the emulator and the data plane;
* ``evaluation`` — CloudWatch's alarm rules, pure (datapoints → state and reason);
* ``alarms`` — reads alarms and datapoints from the emulator, sets states, notifies (``notifications``);
* ``emulation`` — ``CloudWatchEmulation``: one thread publishing then evaluating every scaled minute.
"""
