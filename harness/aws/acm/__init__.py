"""ACM: fidelity patches."""
