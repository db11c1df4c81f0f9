"""Fidelity patches of ec2: each module defines PATCH (see harness.aws.fidelity)."""
