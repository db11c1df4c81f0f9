"""Fidelity patches of rds: each module defines PATCH (see harness.aws.fidelity)."""
