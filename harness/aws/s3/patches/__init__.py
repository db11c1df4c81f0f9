"""Fidelity patches of s3: each module defines PATCH (see harness.aws.fidelity)."""
