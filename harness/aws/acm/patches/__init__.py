"""Fidelity patches of acm: each module defines PATCH (see harness.aws.fidelity)."""
