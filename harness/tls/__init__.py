"""TLS for the local cloud: a harness-made certificate authority and the server certificates it issues."""

from harness.tls.ca import IssuedCertificate, LocalCA

__all__ = ["IssuedCertificate", "LocalCA"]
