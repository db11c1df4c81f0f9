"""SES inbound for the local cloud: an SMTP endpoint that runs the ACTIVE receipt rule set read back
from the emulated AWS."""
