"""RDS: fidelity patches, the binding of each emulated instance to the real PostgreSQL, and the
rewrite of emulated endpoints in task environments."""
