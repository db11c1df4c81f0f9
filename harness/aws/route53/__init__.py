"""Route 53 as the local cloud resolves it: public names -> the local listeners of the load balancers."""
