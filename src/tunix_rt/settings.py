"""Runtime configuration: every knob is a `TUNIX_RT_*` environment variable with a default."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Settings read from the environment (and an optional `.env` file)."""

    model_config = SettingsConfigDict(env_prefix="TUNIX_RT_", env_file=".env", extra="ignore")

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

    @property
    def batch_max_bytes(self) -> int:
        """The batch body limit: the single-trace limit scaled by the item cap."""
        return self.trace_max_bytes * self.batch_max_items

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (read once)."""
    return Settings()
