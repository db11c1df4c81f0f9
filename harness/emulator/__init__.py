"""The emulated AWS: the patched moto server, its process, and the backends the stack can boot against."""
