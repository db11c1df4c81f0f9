"""Fidelity patches of sqs: each module defines PATCH (see harness.aws.fidelity)."""
