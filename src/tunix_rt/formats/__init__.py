"""Export-format renderers: stored trace payloads → JSON Lines records.

Pure functions, no I/O. Typical streaming use:

    render_one = renderer_for("tunix_sft")
    for trace_id, payload in rows:
        out.write(encode_line(render_one(trace_id, payload, system)))

See docs/formats.md for every format, its fields and its readers.
"""

from __future__ import annotations

from tunix_rt.formats.encode import encode_line, encode_lines
from tunix_rt.formats.errors import (
    FormatError,
    RecordEncodeError,
    StepLabelsError,
    UnknownFormatError,
)
from tunix_rt.formats.gemma import gemma_completion, gemma_example, gemma_prompt
from tunix_rt.formats.metadata import canonical_meta_json, record_metadata
from tunix_rt.formats.names import FORMATS, ExportFormat
from tunix_rt.formats.renderers import (
    RENDERERS,
    EvaluatedRejection,
    Renderer,
    render,
    render_preference,
    renderer_for,
)
from tunix_rt.formats.response import reasoning_response, step_texts

__all__ = [
    "FORMATS",
    "RENDERERS",
    "EvaluatedRejection",
    "ExportFormat",
    "FormatError",
    "RecordEncodeError",
    "Renderer",
    "StepLabelsError",
    "UnknownFormatError",
    "canonical_meta_json",
    "encode_line",
    "encode_lines",
    "gemma_completion",
    "gemma_example",
    "gemma_prompt",
    "reasoning_response",
    "record_metadata",
    "render",
    "render_preference",
    "renderer_for",
    "step_texts",
]
