"""Training runs: the registry, the executor that runs them in worker processes, metrics, logs."""
