"""ACM certificates validated through DNS are issued as soon as the emulator can tell.

AWS: an AMAZON_ISSUED certificate stays PENDING_VALIDATION until ACM sees the DNS validation record,
usually within minutes; ``aws_acm_certificate_validation`` polls DescribeCertificate until ISSUED.
Stock moto: the certificate turns ISSUED only 60 s after it was requested (``MOTO_ACM_VALIDATION_WAIT``),
so every cold apply waits a minute for nothing. The emulator has no DNS to check, so issuing at once
hides no behaviour a test could observe: the certificate is still PENDING_VALIDATION in the
RequestCertificate call's own view and ISSUED on the first DescribeCertificate.
"""

from __future__ import annotations

import os

from harness.aws.fidelity import FidelityPatch

ENV = {"MOTO_ACM_VALIDATION_WAIT": "0"}


def _apply() -> None:
    # moto reads the variable into a module attribute at import; refresh it in case moto was imported
    # before apply_all set the env (e.g. in a test process).
    from moto import settings

    settings.ACM_VALIDATION_WAIT = int(os.environ.get("MOTO_ACM_VALIDATION_WAIT", ENV["MOTO_ACM_VALIDATION_WAIT"]))


PATCH = FidelityPatch(
    name="acm-validation-immediate",
    summary="ACM issues a DNS-validated certificate once the record exists; stock moto makes every "
    "certificate wait 60 s (MOTO_ACM_VALIDATION_WAIT) before ISSUED.",
    apply=_apply,
    env=ENV,
)
