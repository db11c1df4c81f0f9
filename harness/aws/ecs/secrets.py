"""Resolve a container's `secrets` the way the ECS agent does.

`valueFrom` forms:

* SSM Parameter Store: the parameter ARN (`arn:aws:ssm:<region>:<account>:parameter/<name>`) or,
  in the task's region, its name -> `ssm.get_parameter(Name=..., WithDecryption=True)`;
* Secrets Manager: `arn:aws:secretsmanager:<region>:<account>:secret:<name>` optionally followed by
  `:<json-key>:<version-stage>:<version-id>` (each may be empty, e.g. `<arn>:password::`)
  -> `secretsmanager.get_secret_value(SecretId=<arn>, VersionStage=..., VersionId=...)`, then the
  JSON key of the SecretString when one is named (a non-string JSON value is passed as JSON text).

An ARN in another region is read from that region of the same emulator.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from botocore.exceptions import BotoCoreError, ClientError

from harness.aws.ecs.model import Secret
from harness.core.clients import AwsClients
from harness.core.errors import HarnessError


class SecretResolutionError(HarnessError):
    """A `secrets` entry of a task definition could not be resolved (ECS: ResourceInitializationError)."""


@dataclass(frozen=True)
class SecretRef:
    kind: Literal["ssm", "secretsmanager"]
    id: str  # SSM parameter name or ARN; Secrets Manager secret ARN without the suffix
    region: str = ""  # from the ARN; "" = the task's region
    json_key: str = ""
    version_stage: str = ""
    version_id: str = ""


def parse_value_from(value_from: str) -> SecretRef:
    if not value_from.startswith("arn:"):
        if not value_from:
            raise SecretResolutionError("empty valueFrom in a task definition secret",
                                        "name an SSM parameter or a secret ARN")
        return SecretRef(kind="ssm", id=value_from)
    parts = value_from.split(":")
    if len(parts) < 6:
        raise SecretResolutionError(f"malformed ARN in valueFrom: {value_from!r}",
                                    "use the full parameter or secret ARN")
    service, region = parts[2], parts[3]
    if service == "ssm" and parts[5].startswith("parameter/"):
        return SecretRef(kind="ssm", id=value_from, region=region)
    if service == "secretsmanager" and parts[5] == "secret" and len(parts) >= 7:
        extras = [*parts[7:], "", "", ""][:3]
        if len(parts) > 10:
            raise SecretResolutionError(
                f"too many ':' fields in {value_from!r}", "use <secret-arn>:<json-key>:<version-stage>:<version-id>"
            )
        return SecretRef(kind="secretsmanager", id=":".join(parts[:7]), region=region,
                         json_key=extras[0], version_stage=extras[1], version_id=extras[2])
    raise SecretResolutionError(
        f"valueFrom {value_from!r} is neither an SSM parameter nor a Secrets Manager secret",
        "ECS secrets come from SSM Parameter Store or Secrets Manager",
    )


class SecretResolver:
    """Reads secret values from the emulated AWS."""

    def __init__(self, clients: AwsClients) -> None:
        self.clients = clients

    def _client(self, service: str, region: str) -> Any:
        return self.clients.for_region(region or self.clients.region).client(service)

    def value(self, ref: SecretRef) -> str:
        if ref.kind == "ssm":
            answer = self._client("ssm", ref.region).get_parameter(Name=ref.id, WithDecryption=True)
            return str(answer["Parameter"]["Value"])
        kwargs: dict[str, str] = {"SecretId": ref.id}
        if ref.version_stage:
            kwargs["VersionStage"] = ref.version_stage
        if ref.version_id:
            kwargs["VersionId"] = ref.version_id
        answer = self._client("secretsmanager", ref.region).get_secret_value(**kwargs)
        text = answer.get("SecretString")
        if text is None:
            raise SecretResolutionError(f"secret {ref.id} has no SecretString (binary secrets are not supported)",
                                        "store the value as a string")
        if not ref.json_key:
            return str(text)
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SecretResolutionError(f"secret {ref.id} is not JSON, but a JSON key {ref.json_key!r} was asked for",
                                        "drop the JSON key or store a JSON object") from exc
        if not isinstance(document, dict) or ref.json_key not in document:
            raise SecretResolutionError(f"secret {ref.id} has no JSON key {ref.json_key!r}",
                                        f"keys present: {sorted(document) if isinstance(document, dict) else 'none'}")
        item = document[ref.json_key]
        return item if isinstance(item, str) else json.dumps(item)

    def resolve(self, secrets: Iterable[Secret]) -> dict[str, str]:
        """{name: value} for every entry; the first failure raises naming the variable and its source."""
        values: dict[str, str] = {}
        for secret in secrets:
            try:
                values[secret.name] = self.value(parse_value_from(secret.value_from))
            except (ClientError, BotoCoreError) as exc:
                raise SecretResolutionError(
                    f"ResourceInitializationError: unable to retrieve secret {secret.name} from"
                    f" {secret.value_from}: {exc}",
                    "check that Terraform created it in the emulated AWS (aws ssm get-parameter /"
                    " aws secretsmanager get-secret-value against the emulator)",
                ) from exc
            except SecretResolutionError as exc:
                raise SecretResolutionError(
                    f"ResourceInitializationError: secret {secret.name}: {exc.problem}", exc.fix
                ) from exc
        return values
