"""Whether the Tunix training stack is installed, found without importing it (or JAX)."""

from __future__ import annotations

import importlib.metadata
import importlib.util

from pydantic import BaseModel

from tunix_rt.errors import UnavailableError

TUNIX_DISTRIBUTION = "google-tunix"
TRAIN_EXTRA_HINT = "pip install -e '.[train]'"
TRAINING_MODULES = ("jax", "tunix", "sentencepiece")


class TunixStatus(BaseModel):
    available: bool
    version: str | None
    runtime_required: bool = False
    message: str


def missing_training_modules() -> list[str]:
    """The modules of the training stack (the `train` extra) that are not installed."""
    return [name for name in TRAINING_MODULES if importlib.util.find_spec(name) is None]


def require_training_stack() -> None:
    """UnavailableError (503) naming the extra when JAX / Tunix are not installed."""
    missing = missing_training_modules()
    if missing:
        raise UnavailableError(
            f"the training stack is not installed (missing: {', '.join(missing)}); "
            f"install the `train` extra: {TRAIN_EXTRA_HINT}"
        )


def tunix_status() -> TunixStatus:
    """Installed or not, and its version. Manifests and exports never need it."""
    missing = missing_training_modules()
    version = None
    if "tunix" not in missing:
        try:
            version = importlib.metadata.version(TUNIX_DISTRIBUTION)
        except importlib.metadata.PackageNotFoundError:
            version = None
    if not missing:
        message = f"Tunix {version or '(unknown version)'} is installed; runs can train here."
    else:
        what = (
            "Tunix is not installed"
            if "tunix" in missing
            else f"the training stack is incomplete (missing: {', '.join(missing)})"
        )
        message = (
            f"{what}: manifests and exports work without it; to train here, "
            f"install the training extra ({TRAIN_EXTRA_HINT})."
        )
    return TunixStatus(available=not missing, version=version, message=message)
