"""Fidelity patches of iam: each module defines PATCH (see harness.aws.fidelity)."""
