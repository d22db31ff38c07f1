"""CLI start-up time: `tunix-rt --help` and `tunix-rt datasets list` beside a bare interpreter.

Each round starts, one after another, `python -c "import sqlite3"` (the baseline: an interpreter
that loads one C extension), `tunix-rt --help`, and `tunix-rt datasets list` on a fresh SQLite
database (migrated once beforehand) in a temporary folder. Alternating spreads any load on the
machine over all three. Prints JSON: the median seconds of each and each command's median as a
multiple of the baseline's.

    python benchmarks/bench_cli_startup.py [--rounds 21]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BASELINE = [sys.executable, "-c", "import sqlite3"]
CLI = [sys.executable, "-m", "tunix_rt"]
COMMANDS = {"help": [*CLI, "--help"], "datasets_list": [*CLI, "datasets", "list"]}


def _seconds(argv: list[str], env: dict[str, str], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run(argv, env=env, cwd=cwd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=21)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tunix-rt-bench-") as tmp:
        folder = Path(tmp)
        env = {k: v for k, v in os.environ.items() if not k.startswith("TUNIX_RT_")}
        env |= {
            "TUNIX_RT_DATABASE_URL": f"sqlite+aiosqlite:///{folder / 'tunix_rt.db'}",
            "TUNIX_RT_DATA_DIR": str(folder / "data"),
            "TUNIX_RT_RUNS_DIR": str(folder / "runs"),
        }
        subprocess.run(
            [*CLI, "db", "upgrade"], env=env, cwd=folder, check=True, capture_output=True
        )
        for argv in [BASELINE, *COMMANDS.values()]:  # warm the file cache and bytecode
            _seconds(argv, env, folder)
        times: dict[str, list[float]] = {"baseline": [], **{name: [] for name in COMMANDS}}
        for _ in range(args.rounds):
            times["baseline"].append(_seconds(BASELINE, env, folder))
            for name, argv in COMMANDS.items():
                times[name].append(_seconds(argv, env, folder))
    medians = {name: statistics.median(values) for name, values in times.items()}
    figures: dict[str, object] = {
        "rounds": args.rounds,
        "median_seconds": {name: round(value, 4) for name, value in medians.items()},
        "times_baseline": {
            name: round(medians[name] / medians["baseline"], 1) for name in COMMANDS
        },
    }
    json.dump(figures, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
