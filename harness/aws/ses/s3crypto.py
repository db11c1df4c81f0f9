"""Client-side encryption for the S3 action's `KmsKeyArn`, the way SES does it.

With a KMS key on the S3 action, SES encrypts the mail itself before PutObject, using the Amazon S3
encryption-client envelope format: a fresh AES-256 data key from KMS `GenerateDataKey` with the
encryption context {aws:ses:message-id, aws:ses:rule-name, aws:ses:source-account}; the body is
AES/GCM/NoPadding (12-byte IV, 128-bit tag appended); the wrapped key, IV and context travel as
object metadata (`x-amz-key-v2`, `x-amz-iv`, `x-amz-cek-alg`, `x-amz-wrap-alg`=kms,
`x-amz-matdesc`, `x-amz-tag-len`, `x-amz-unencrypted-content-length`). `decrypt_object` reverses it
(what a consumer using the S3 encryption client does), for tests and scenario suites.
"""

from __future__ import annotations

import base64
import json
import secrets
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM


@dataclass(frozen=True)
class Encrypted:
    body: bytes
    metadata: dict[str, str]


def encryption_context(message_id: str, rule_name: str, account_id: str) -> dict[str, str]:
    return {
        "aws:ses:message-id": message_id,
        "aws:ses:rule-name": rule_name,
        "aws:ses:source-account": account_id,
    }


def encrypt(kms_client: Any, key_arn: str, plaintext: bytes, context: dict[str, str]) -> Encrypted:
    data_key = kms_client.generate_data_key(KeyId=key_arn, KeySpec="AES_256", EncryptionContext=context)
    iv = secrets.token_bytes(12)
    body = AESGCM(data_key["Plaintext"]).encrypt(iv, plaintext, None)
    metadata = {
        "x-amz-key-v2": base64.b64encode(data_key["CiphertextBlob"]).decode("ascii"),
        "x-amz-iv": base64.b64encode(iv).decode("ascii"),
        "x-amz-cek-alg": "AES/GCM/NoPadding",
        "x-amz-wrap-alg": "kms",
        "x-amz-matdesc": json.dumps(context, separators=(",", ":")),
        "x-amz-tag-len": "128",
        "x-amz-unencrypted-content-length": str(len(plaintext)),
    }
    return Encrypted(body, metadata)


def decrypt(kms_client: Any, body: bytes, metadata: dict[str, str]) -> bytes:
    """Plaintext of an object written by `encrypt` (metadata keys as S3 returns them, no prefix)."""
    context = json.loads(metadata["x-amz-matdesc"])
    key = kms_client.decrypt(CiphertextBlob=base64.b64decode(metadata["x-amz-key-v2"]), EncryptionContext=context)[
        "Plaintext"
    ]
    return AESGCM(key).decrypt(base64.b64decode(metadata["x-amz-iv"]), body, None)


def decrypt_object(s3_client: Any, kms_client: Any, bucket: str, key: str) -> bytes:
    """GetObject + decrypt; objects stored without encryption metadata come back as they are."""
    response = s3_client.get_object(Bucket=bucket, Key=key)
    body = response["Body"].read()
    metadata = {k.lower(): v for k, v in (response.get("Metadata") or {}).items()}
    if "x-amz-key-v2" not in metadata:
        return body
    return decrypt(kms_client, body, metadata)
