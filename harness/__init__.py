"""mailstack harness: a local cloud that runs the platform's real Terraform and real services."""

__version__ = "0.1.0"
