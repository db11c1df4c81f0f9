"""EC2 (VPC, security groups): fidelity patches."""
