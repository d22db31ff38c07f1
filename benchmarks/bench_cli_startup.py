"""CLI start-up time: `tunix-rt --help` and `tunix-rt datasets list` beside a bare interpreter.

Each round starts, one after another and in an order rotated every round, `python -c "import
sqlite3"` (the baseline: an interpreter that loads one C extension), `python -m tunix_rt --help`
(the same code as the `tunix-rt` script, without the script's own start-up), and `python -m
tunix_rt datasets list` on an empty SQLite database migrated once beforehand, in a temporary
folder. Alternating spreads any load on the machine over all three. Prints JSON: the median
seconds of each, and the median over rounds of each command's time divided by that round's
baseline.

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
        programs = {"baseline": BASELINE, **COMMANDS}
        names = list(programs)
        times: dict[str, list[float]] = {name: [] for name in names}
        for round_ in range(args.rounds):
            # Rotate the order each round, so no command always runs right after another.
            shift = round_ % len(names)
            for name in names[shift:] + names[:shift]:
                times[name].append(_seconds(programs[name], env, folder))
    ratios = {
        name: [t / base for t, base in zip(times[name], times["baseline"], strict=True)]
        for name in COMMANDS
    }
    figures: dict[str, object] = {
        "rounds": args.rounds,
        "median_seconds": {name: round(statistics.median(v), 4) for name, v in times.items()},
        "times_baseline": {name: round(statistics.median(r), 1) for name, r in ratios.items()},
    }
    json.dump(figures, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
