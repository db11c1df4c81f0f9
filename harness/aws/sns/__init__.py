"""SNS: deliveries (fidelity patches), message signing, subscription confirmation and the trust the
data plane gives the harness CA."""
