"""Application Auto Scaling: fidelity patches."""
