"""S3: fidelity patches."""
