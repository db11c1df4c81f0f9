"""Fidelity patches of ses: each module defines PATCH (see harness.aws.fidelity)."""
