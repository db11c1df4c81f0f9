"""Fidelity patches of cloudwatch: each module defines PATCH (see harness.aws.fidelity)."""
