"""Amazon SNS HTTP(S) deliveries: message signature verification."""
