"""Runtime configuration: every knob is a `TUNIX_RT_*` environment variable with a default.

Values come from, in order of precedence: the keyword arguments, the `TUNIX_RT_*` environment
variables (names in any case), and the `TUNIX_RT_*` lines of a `.env` file in the working
folder. A plain pydantic model reads them (python-dotenv is imported only when there is a
`.env` file), so a command that only reads a row does not pay for a settings framework.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from tunix_rt.errors import ConfigurationError, describe_validation_error

ENV_PREFIX = "TUNIX_RT_"
ENV_FILE = Path(".env")


def environment_values(
    environ: dict[str, str] | None = None, env_file: Path = ENV_FILE
) -> dict[str, str]:
    """The `TUNIX_RT_*` values of `.env` overridden by the environment's, keyed by field."""
    values: dict[str, str | None] = {}
    if env_file.is_file():
        from dotenv import dotenv_values

        values.update(dotenv_values(env_file))
    values.update(os.environ if environ is None else environ)
    return {
        name[len(ENV_PREFIX) :].lower(): value
        for name, value in values.items()
        if name.upper().startswith(ENV_PREFIX) and value is not None
    }


class Settings(BaseModel):
    """Settings read from the environment (and an optional `.env` file)."""

    model_config = ConfigDict(extra="ignore")

    @model_validator(mode="before")
    @classmethod
    def _environment_beneath(cls, data: Any) -> Any:
        given = dict(data) if isinstance(data, dict) else {}
        known = cls.model_fields
        return {k: v for k, v in environment_values().items() if k in known} | given

    database_url: str = Field(
        default="sqlite+aiosqlite:///./data/tunix_rt.db",
        description="SQLAlchemy async URL: sqlite+aiosqlite:///path or postgresql+asyncpg://...",
    )
    data_dir: Path = Field(default=Path("data"), description="Dataset manifests and exports.")
    export_cache_bytes: int = Field(
        default=2 * 1024**3,
        ge=0,
        description="Finished exports kept under <data_dir> to serve again (0: keep none).",
    )
    runs_dir: Path = Field(
        default=Path("runs"), description="Every training run writes only under <runs_dir>/<id>/."
    )
    models_dir: Path | None = Field(
        default=None,
        description="When set, a run's model.path and tokenizer.path must be inside it (a "
        "relative one is taken relative to it); unset: any local path may be read.",
    )
    max_concurrent_runs: int = Field(default=1, ge=1, le=64, description="Runs training at once.")
    run_executor: bool = Field(
        default=True, description="Whether `tunix-rt serve` runs queued training runs."
    )
    run_cancel_grace_seconds: float = Field(
        default=5.0, gt=0, description="After a cancel, how long a run may take to stop."
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    api_token: str | None = Field(
        default=None, description="When set, /api/* (except /api/health) needs `Bearer <token>`."
    )
    trace_max_bytes: int = Field(default=1024 * 1024, ge=1024, description="Max body of one trace.")
    batch_max_items: int = Field(default=1000, ge=1, description="Max traces per batch request.")
    db_pool_size: int = Field(default=8, ge=1)

    @field_validator("models_dir", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        """`TUNIX_RT_MODELS_DIR=` (empty) leaves it unset rather than meaning the working folder."""
        return None if isinstance(value, str) and not value.strip() else value

    @property
    def batch_max_bytes(self) -> int:
        """The batch body limit: the single-trace limit scaled by the item cap."""
        return self.trace_max_bytes * self.batch_max_items

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def _variable(field: str | int) -> str | None:
    """The environment variable that sets `field`."""
    return f"{ENV_PREFIX}{field}".upper() if field in Settings.model_fields else None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (read once); a bad value is a ConfigurationError naming its
    variable."""
    try:
        return Settings()
    except ValidationError as exc:
        message = describe_validation_error(exc, name_of=_variable)
        raise ConfigurationError(message) from None
