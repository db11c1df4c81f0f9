"""SQS: fidelity patches (redrive, message move tasks, metrics)."""
