"""Run every benchmark and print their figures as one JSON object.

    python benchmarks/run_all.py [--postgres] [--table-rows N]

Each benchmark also runs on its own; see its docstring. Figures depend on the machine: run them
on a quiet one.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from common import POSTGRES_BENCH_URL

HERE = Path(__file__).parent


def run(script: str, *args: str) -> object:
    output = subprocess.run(
        [sys.executable, str(HERE / script), *args], check=True, capture_output=True, text=True
    ).stdout
    return json.loads(output)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--postgres", action="store_true", help="also run on PostgreSQL")
    parser.add_argument("--table-rows", default="1000000")
    args = parser.parse_args()
    backends = ["sqlite", "postgres"] if args.postgres else ["sqlite"]
    figures: dict[str, object] = {"formats": run("bench_formats.py")}
    for backend in backends:
        rows = ("--table-rows", args.table_rows)
        figures[f"traces_{backend}"] = run("bench_traces.py", "--backend", backend, *rows)
        figures[f"datasets_{backend}"] = run("bench_datasets.py", "--backend", backend, *rows)
        figures[f"pages_{backend}"] = run("bench_pages.py", "--backend", backend, *rows)
    figures["runs"] = run("bench_runs.py")
    figures["load"] = run(
        "bench_load.py", "--postgres-url", POSTGRES_BENCH_URL if args.postgres else ""
    )
    figures["training"] = run("bench_training.py")
    figures["grpo"] = run("bench_grpo.py")
    figures["evaluation"] = run("bench_evaluation.py")
    figures["cli_startup"] = run("bench_cli_startup.py")
    json.dump(figures, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
