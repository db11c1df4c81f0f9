"""The ALB data plane: load balancers read back from the emulated AWS, serving real traffic locally."""
