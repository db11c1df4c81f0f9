"""Shared leaves of the harness: settings, errors, the AWS client factory, processes and the reaper,
ports, progress, probes, the local CA, and the run-directory contract between the CLI and the data plane."""
