"""The ECS runner: task definitions and services read back from the emulated AWS, run for real.

    runner = EcsRunner(context, EcsOptions(image_map={"mailstack-dev-api": "services/api/Dockerfile"})).start()
    runner.snapshot(); runner.kill_task(task_id); runner.stop()

Modules, one job each: model (configuration data), loader (boto3 -> model, run-before selection),
dockerfile (ENTRYPOINT/CMD/ENV/WORKDIR/EXPOSE of a stage), images (image -> Dockerfile -> argv),
secrets (valueFrom -> value), rds_rewrite (emulated RDS endpoint -> local PostgreSQL), environment
(the container's env), addresses (loopback IP per task), options (the runner's ECS settings),
planner (task definition -> launch),
drivers (process driver; container driver interface), tasks (ECS-shaped task records), targets
(ELBv2 registration), logship (CloudWatch Logs), backoff (restart throttle), health (container
health checks), runner (the scheduler and lifecycle object).
"""
