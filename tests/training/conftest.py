"""Training fixtures, and JAX isolation for the training tests.

Test modules that set `pytestmark = pytest.mark.jax_subprocess` run in a child pytest process
(one per module, so module-scoped fixtures are built once) and their outcomes are replayed here
per test. The main test process therefore never imports JAX or Tunix: other tests check that
the server does not, and XLA's thread pools stay out of the async tests.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from helpers.trained import write_arithmetic_jsonl
from tunix_rt.runs.manifest import RunManifest

CHILD_ENV = "TUNIX_RT_TRAINING_CHILD"
MARKER = "jax_subprocess"


@pytest.fixture(scope="session")
def arithmetic_jsonl(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_arithmetic_jsonl(tmp_path_factory.mktemp("data") / "arith.jsonl", 300)


# The tests check mechanics, not accuracy: a narrower model than the default trains faster.
TEST_WIDTH = 64


def tiny_manifest(**training: Any) -> RunManifest:
    """A tiny-model manifest with a learning rate that trains it in a few hundred steps."""
    settings: dict[str, Any] = {
        "learning_rate": 3e-3,
        "batch_size": 8,
        "max_seq_length": 256,
        "max_steps": 20,
    }
    settings.update(training)
    return RunManifest.model_validate(
        {
            "model": {"model_id": "tunix-rt/tiny", "width": TEST_WIDTH},
            "dataset": {"key": "arith-v1", "path": "datasets/arith-v1/tunix_sft.jsonl"},
            "training": settings,
            "output": {"output_dir": "runs/test"},
        }
    )


# --- JAX isolation -------------------------------------------------------------------------


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{MARKER}: run this module's tests in a child pytest process (JAX isolation)"
    )


class _ChildRun:
    """One child pytest run of a module: per-test (outcome, message, seconds)."""

    def __init__(self, module: Path, rootdir: Path, workdir: Path) -> None:
        report = workdir / "junit.xml"
        env = dict(os.environ, **{CHILD_ENV: "1"})
        started = time.perf_counter()
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                str(module),
                "-q",
                "-p",
                "no:cacheprovider",
                f"--junitxml={report}",
                f"--basetemp={workdir / 'tmp'}",
                "-W",
                "ignore::DeprecationWarning",
            ],
            cwd=rootdir,
            env=env,
            capture_output=True,
            text=True,
        )
        self.seconds = time.perf_counter() - started
        self.output = (done.stdout + done.stderr)[-20000:]
        self.results: dict[str, tuple[str, str, float]] = {}
        if report.is_file():
            for case in ET.parse(report).getroot().iter("testcase"):
                outcome, message = "passed", ""
                for child in case:
                    if child.tag in ("failure", "error"):
                        outcome = "failed"
                        message = (child.get("message") or "") + "\n" + (child.text or "")
                    elif child.tag == "skipped":
                        outcome, message = "skipped", child.get("message") or "skipped"
                self.results[case.get("name", "")] = (
                    outcome,
                    message,
                    float(case.get("time", "0")),
                )


_children: dict[Path, _ChildRun] = {}


def _isolated(item: pytest.Item) -> bool:
    return os.environ.get(CHILD_ENV) != "1" and item.get_closest_marker(MARKER) is not None


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> bool | None:
    if not _isolated(item):
        return None
    module = Path(str(item.path))
    if module not in _children:
        workdir = Path(str(item.config._tmp_path_factory.mktemp("child")))  # type: ignore[attr-defined]
        _children[module] = _ChildRun(module, item.config.rootpath, workdir)
    child = _children[module]
    outcome, message, seconds = child.results.get(
        item.name,
        ("failed", f"the child pytest run reported nothing for this test:\n{child.output}", 0.0),
    )
    keywords = {name: 1 for name in item.keywords}
    item.ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
    for when in ("setup", "call", "teardown"):
        longrepr: Any = None
        phase_outcome = "passed"
        if when == "call" and outcome == "failed":
            phase_outcome, longrepr = "failed", f"{message}\n--- child output ---\n{child.output}"
        elif when == "setup" and outcome == "skipped":
            phase_outcome, longrepr = "skipped", (str(item.path), item.location[1] or 0, message)
        if when == "call" and outcome == "skipped":
            continue
        report = pytest.TestReport(
            item.nodeid,
            item.location,
            keywords,
            phase_outcome,  # type: ignore[arg-type]
            longrepr,
            when,  # type: ignore[arg-type]
            duration=seconds if when == "call" else 0.0,
        )
        item.ihook.pytest_runtest_logreport(report=report)
    item.ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
    return True
