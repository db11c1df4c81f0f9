"""Fidelity patches of sns: each module defines PATCH (see harness.aws.fidelity)."""
