"""IAM: fidelity patches."""
