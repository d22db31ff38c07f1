"""Settings: keyword arguments over the environment over `.env`; a bad value names its variable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.server import cli_env
from tunix_rt.errors import ConfigurationError
from tunix_rt.settings import Settings, environment_values, get_settings


def test_the_environment_overrides_dotenv_and_arguments_override_both(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path(".env").write_text(
        "TUNIX_RT_PORT=9001\nTUNIX_RT_RUNS_DIR=from-dotenv\nOTHER_THING=1\n", encoding="utf-8"
    )
    monkeypatch.setenv("TUNIX_RT_PORT", "9002")
    monkeypatch.setenv("tunix_rt_batch_max_items", "7")  # any case, as before
    settings = Settings(data_dir=Path("given"))
    assert (settings.port, settings.runs_dir, settings.batch_max_items, settings.data_dir) == (
        9002,
        Path("from-dotenv"),
        7,
        Path("given"),
    )
    assert Settings(port=9003).port == 9003
    assert "other_thing" not in environment_values()


def test_without_dotenv_or_variables_the_defaults_hold(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert environment_values({"PATH": "/bin", "TUNIX_RT_RUN_EXECUTOR": "false"}) == {
        "run_executor": "false"
    }
    for name in [n for n in os.environ if n.upper().startswith("TUNIX_RT_")]:
        monkeypatch.delenv(name)
    settings = Settings()
    assert (settings.host, settings.port, settings.run_executor) == ("127.0.0.1", 8000, True)


def test_a_bad_value_is_a_configuration_error_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TUNIX_RT_MAX_CONCURRENT_RUNS", "0")
    get_settings.cache_clear()
    try:
        with pytest.raises(ConfigurationError) as info:
            get_settings()
    finally:
        get_settings.cache_clear()
    assert str(info.value) == (
        "TUNIX_RT_MAX_CONCURRENT_RUNS: Input should be greater than or equal to 1"
    )


def test_the_cli_reports_a_bad_setting_in_one_line(sqlite_url: str, tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tunix_rt", "datasets", "list"],
        env=cli_env(sqlite_url, TUNIX_RT_PORT="eighty", COLUMNS="200"),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (done.returncode, done.stdout, done.stderr) == (
        1,
        "",
        "error: TUNIX_RT_PORT: Input should be a valid integer, unable to parse string as an "
        "integer\n",
    )


def test_an_empty_models_dir_leaves_it_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TUNIX_RT_MODELS_DIR", "")
    assert Settings().models_dir is None
    monkeypatch.setenv("TUNIX_RT_MODELS_DIR", "/srv/models")
    assert Settings().models_dir == Path("/srv/models")
    assert Settings(models_dir=None).models_dir is None
