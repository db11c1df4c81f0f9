"""Add the build machine's CA certificates that Debian does not ship (a TLS-inspecting proxy's CA, a company CA)
to the image's trust store: one file each under /usr/local/share/ca-certificates, which update-ca-certificates
keeps in /etc/ssl/certs/ca-certificates.crt whenever it rebuilds the bundle. Usage: trust-host-cas.py BUNDLE"""

import re
import sys
from pathlib import Path

PEM = re.compile(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.DOTALL)


def blocks(text: str) -> list[str]:
    return PEM.findall(text)


def key(block: str) -> str:
    return "".join(block.split())


known = {key(block) for block in blocks(Path("/etc/ssl/certs/ca-certificates.crt").read_text())}
extra = [block for block in blocks(Path(sys.argv[1]).read_text()) if key(block) not in known]
for index, block in enumerate(extra):
    Path(f"/usr/local/share/ca-certificates/build-host-{index:03d}.crt").write_text(block + "\n")
print(f"trust-host-cas: {len(extra)} certificate(s) of the build machine added to the trust store")
