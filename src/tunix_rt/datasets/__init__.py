"""Datasets: reproducible, immutable selections of traces, their manifests, stats and exports.

Its modules (each imported by name, so that reading a dataset loads no export code):

- `schema`: build requests, filters and manifests
- `select`: the set-based SQL that picks a dataset's traces and splits them
- `pairs`: datasets built from an evaluation: which may be, and the joins to its items
- `builder`: `build_dataset`, which selects, measures, hashes and writes the manifest
- `paths`: where a dataset's files live (`manifest_path`)
- `store`: reading built datasets (`require_dataset`, `list_datasets`, `get_manifest`)
- `export`: streamed exports in every format, in manifest order
- `export_cache`: finished exports kept on disk and copied again
- `sft_export`: the `tunix_sft` export of a dataset or of chosen traces
- `service`: deleting a dataset, and checking and opening its exports
"""

__all__ = [
    "builder",
    "export",
    "export_cache",
    "pairs",
    "paths",
    "schema",
    "select",
    "service",
    "sft_export",
    "store",
]
