"""The data plane of the local cloud: one daemon process that runs what Terraform declared.

It hosts the ALB data plane, the SES inbound MX and the ECS runner, reads the stack's state file for
the emulator endpoint and the RDS bindings, and publishes what it runs (`runtime.json`) and the
data-plane truth the emulator reports (`truth/`); the files and their formats: `harness.core.rundir`.
"""
