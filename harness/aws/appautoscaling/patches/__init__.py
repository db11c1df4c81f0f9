"""Fidelity patches of appautoscaling: each module defines PATCH (see harness.aws.fidelity)."""
