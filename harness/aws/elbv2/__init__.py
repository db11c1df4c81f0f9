"""The ALB data plane: load balancers read back from the emulated AWS, serving real traffic locally.

    plane = AlbDataPlane(RuntimeContext.for_emulator(aws_endpoint_url, "us-east-1", run_dir, time_scale=100)).start()
    plane.wait_ready()
    httpx.get(plane.local_url("https://<alb dns>:443/health"), verify=str(plane.ca_bundle_path))
    plane.stop()

Modules: model (configuration data), loader (boto3 -> model), routing (rule conditions),
redirects (Location), health (AWS state machine, pure), checker (health probes), balancer
(round robin, weights), proxy (forwarding), handler (ASGI request path), listener (uvicorn
server), metrics (CloudWatch counters), dataplane (the lifecycle object).
"""
