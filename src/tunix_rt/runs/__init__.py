"""Training runs and evaluations as jobs: the registry, the queue, the executor that runs each
job in its own worker process, metrics, logs and artifacts.

Its modules (each imported by name; none imports JAX, which only `tunix_rt.training` does):

- `manifest`: the run manifest (`RunManifest`) and the flat manifest request
- `schema`: run requests and records
- `service`: validating manifests against the database and the machine, starting runs
- `store`: the run registry's rows and metrics
- `jobs`: the queue shared by runs and evaluations (claim, cancel, recover)
- `executor`: the server's executor, which runs queued jobs in worker processes
- `worker`: executing one run (in a worker process, or in the foreground for `tunix-rt train`)
- `foreground`: running a job in this process (stop on a signal, log lines to the job's log)
- `availability`: whether the training stack is installed, found without importing it
- `paths`: where a run's files live, and safe access to them
- `logs`: reading a run's log, whole or followed
"""

__all__ = [
    "availability",
    "executor",
    "foreground",
    "jobs",
    "logs",
    "manifest",
    "paths",
    "schema",
    "service",
    "store",
    "worker",
]
