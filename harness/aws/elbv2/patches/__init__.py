"""Fidelity patches of elbv2: each module defines PATCH (see harness.aws.fidelity)."""
