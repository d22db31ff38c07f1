"""tunix-rt: a reasoning-trace workbench for LLM post-training with Tunix."""

__version__ = "0.1.0"

__all__ = ["__version__"]
