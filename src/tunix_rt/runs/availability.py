"""Whether the Tunix training stack is installed, found without importing it (or JAX)."""

from __future__ import annotations

import importlib.metadata
import importlib.util

from pydantic import BaseModel

TUNIX_DISTRIBUTION = "google-tunix"
TRAIN_EXTRA_HINT = "pip install -e '.[train]'"


class TunixStatus(BaseModel):
    available: bool
    version: str | None
    runtime_required: bool = False
    message: str


def tunix_status() -> TunixStatus:
    """Installed or not, and its version. Manifests and exports never need it."""
    installed = importlib.util.find_spec("tunix") is not None
    version = None
    if installed:
        try:
            version = importlib.metadata.version(TUNIX_DISTRIBUTION)
        except importlib.metadata.PackageNotFoundError:
            version = None
    if installed:
        message = f"Tunix {version or '(unknown version)'} is installed; runs can train here."
    else:
        message = (
            "Tunix is not installed: manifests and exports work without it; to train here, "
            f"install the training extra ({TRAIN_EXTRA_HINT})."
        )
    return TunixStatus(available=installed, version=version, message=message)
