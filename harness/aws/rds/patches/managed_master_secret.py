"""The RDS-managed master user secret holds the instance's master username and a generated password.

AWS: with ``ManageMasterUserPassword``, RDS creates a Secrets Manager secret whose value is
``{"username": <MasterUsername>, "password": <generated>}``; applications (and ECS ``secrets`` with a
``:username::`` / ``:password::`` JSON key) log in with exactly that.
Stock moto: stores ``{"username": "admin", "password": "P@55w0rd!"}`` for every instance and cluster, so a
service reading its credentials from the secret logs in as a user that does not exist.
"""

from __future__ import annotations

import json
import secrets
import string

from harness.aws.fidelity import FidelityPatch

# RDS excludes / " @ and spaces from generated master passwords.
_ALPHABET = "".join(c for c in string.ascii_letters + string.digits + string.punctuation if c not in '/"@ ')


def generated_password(length: int = 32) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def _apply() -> None:
    from moto.rds.models import MasterUserSecret

    def secret_string(self: MasterUserSecret) -> str:
        return json.dumps({"username": self.resource.master_username, "password": generated_password()})

    MasterUserSecret._generate_secret_string = secret_string  # type: ignore[method-assign]


PATCH = FidelityPatch(
    name="rds-managed-master-secret",
    summary="The RDS-managed master secret holds the instance's MasterUsername and a generated password; "
    "stock moto stores admin / P@55w0rd! for every instance.",
    apply=_apply,
)
