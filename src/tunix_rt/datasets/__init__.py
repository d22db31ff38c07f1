"""Datasets: reproducible, immutable selections of traces, their manifests, stats and exports."""
