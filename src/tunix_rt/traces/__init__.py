"""Reasoning traces: schema, storage, import, export and scoring.

Its modules (each imported by name):

- `schema`: the trace schema shared by the API, the CLI and the generators
- `rows`: a trace as the columns of its row
- `store`: set-based inserts, keyset pages, lookups, deletes, stored scores, `TraceFilters`
- `importer`: JSON Lines import, validated and stored in one transaction
- `lines`: the import-readable JSON Lines form of a trace (no database needed)
- `export`: streamed exports that `traces import` reads back
- `scoring`: the scoring criteria
- `upload`: a pasted or uploaded document of traces (one, an array, JSON Lines), all or nothing
- `comparison`: two traces side by side, their steps aligned
"""

__all__ = [
    "comparison",
    "export",
    "importer",
    "lines",
    "rows",
    "schema",
    "scoring",
    "store",
    "upload",
]
