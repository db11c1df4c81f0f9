"""Fidelity patches of ecs: each module defines PATCH (see harness.aws.fidelity)."""
