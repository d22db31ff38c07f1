"""Tunix integration: availability, run manifests, and (with the `train` extra) the runner."""
