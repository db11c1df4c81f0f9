"""SES inbound for the local cloud: an SMTP endpoint that runs the ACTIVE receipt rule set read back
from the emulated AWS (S3, SNS, AddHeader, Stop and Bounce actions; receipt filters; size limit).

Modules: `model` (rules, actions, filters, matching), `reader` (read them from the SES API),
`mime` (headers SES prepends), `notification` ("Received" JSON), `s3crypto` (KmsKeyArn envelope
encryption), `bounce` (DSN), `processor` (run rules/actions), `smtp` (aiosmtpd handler),
`inbound` (`SesInbound` lifecycle), `addresses` (RFC 5321 paths).
The SMTP client that sends to it is `harness.testing.smtp_client`.
"""
