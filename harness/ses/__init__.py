"""SES inbound for the local cloud: an SMTP endpoint that runs the ACTIVE receipt rule set read back
from the emulated AWS (S3, SNS, AddHeader, Stop and Bounce actions; receipt filters; size limit).

Modules: `model` (rules, actions, filters, matching), `reader` (read them from the SES API),
`mime` (headers SES prepends), `notification` ("Received" JSON), `s3crypto` (KmsKeyArn envelope
encryption), `bounce` (DSN), `processor` (run rules/actions), `smtp` (aiosmtpd handler),
`inbound` (`SesInbound` lifecycle), `client` (`send_mail`).
"""

from harness.ses.client import RecipientsRefusedError, SendResult, send_mail
from harness.ses.inbound import DEFAULT_MAX_MESSAGE_BYTES, SesInbound
from harness.ses.mime import Verdicts
from harness.ses.model import ReceiptConfig, ReceiptRule
from harness.ses.s3crypto import decrypt_object

__all__ = [
    "DEFAULT_MAX_MESSAGE_BYTES",
    "ReceiptConfig",
    "ReceiptRule",
    "RecipientsRefusedError",
    "SendResult",
    "SesInbound",
    "Verdicts",
    "decrypt_object",
    "send_mail",
]
