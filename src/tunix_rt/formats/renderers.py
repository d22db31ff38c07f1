"""One renderer per export format: `(trace_id, payload, system) -> record`.

`payload` is the stored JSON of a valid `ReasoningTrace`; steps are rendered ordered by `i`.
Records are plain dicts whose key order is the field order documented below (and in
docs/formats.md); `encode_line` writes them as they are.

System instruction (`system`, an export-level option; None or "" means none): folded into the
user text as `{system}\\n\\n{prompt}` where the format has no place for it (Gemma has no system
role; plain prompt/completion text), a `system` message / field where the format has one, and
ignored by `trace`, the raw trace. `meta.system` is *not* read: meta is free-form, and a key
that happens to be called `system` must not silently change training text.

Text: the training formats carry the prompt and the response trimmed (`str.strip()`), exactly
as Gemma's chat template trims message contents, so every training format holds the text that
`tunix_sft` trains on (applying the Gemma template to a `messages` record gives the `tunix_sft`
`prompts`). Step texts are kept as stored; `trace` is the raw trace, untrimmed.

Preference pairs (`preference`): a dataset built from an evaluation pairs each trace with the
model's wrong completion (`EvaluatedRejection`, passed by the dataset export); the registry's
renderer, like a dataset without one, pairs every trace with a corrupted copy of itself.

Step labels (`stepwise`): `meta.step_labels`, when present, is a list with one bool per step,
aligned with the steps ordered by `i`; without it every step is labelled true.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

from tunix_rt.evals.answers import expected_answer_of
from tunix_rt.formats.corruption import corrupt
from tunix_rt.formats.errors import StepLabelsError, UnknownFormatError
from tunix_rt.formats.gemma import gemma_completion, gemma_example
from tunix_rt.formats.metadata import record_metadata
from tunix_rt.formats.names import ExportFormat
from tunix_rt.formats.response import reasoning_response, step_texts

Payload = Mapping[str, Any]
Record = dict[str, Any]
Renderer = Callable[[str, Payload, str | None], Record]


def with_system(prompt: str, system: str | None) -> str:
    """`prompt` with a system instruction folded in front, as plain text."""
    return f"{system}\n\n{prompt}" if system else prompt


def _prompt(payload: Payload, system: str | None) -> str:
    return with_system(payload["prompt"].strip(), system)


def _response(payload: Payload) -> str:
    return reasoning_response(step_texts(payload), payload["final_answer"]).strip()


def step_labels(payload: Payload, step_count: int) -> list[bool]:
    """`meta.step_labels` checked against `step_count`, or all true when absent."""
    meta = payload.get("meta")
    labels = meta.get("step_labels") if meta else None
    if labels is None:
        return [True] * step_count
    if (
        not isinstance(labels, list)
        or len(labels) != step_count
        or not all(label is True or label is False for label in labels)
    ):
        raise StepLabelsError(
            f"meta.step_labels must be a list of {step_count} booleans (one per step, "
            f"ordered by step index), got {labels!r}"
        )
    return list(labels)


def render_trace(trace_id: str, payload: Payload, system: str | None = None) -> Record:
    """`{id, prompts, trace_steps, final_answer, metadata}`: the raw trace; `system` ignored."""
    return {
        "id": trace_id,
        "prompts": payload["prompt"],
        "trace_steps": step_texts(payload),
        "final_answer": payload["final_answer"],
        "metadata": record_metadata(trace_id, payload),
    }


def render_tunix_sft(trace_id: str, payload: Payload, system: str | None = None) -> Record:
    """`{id, prompts, prompt, completion, final_answer, metadata}` in the Gemma chat layout.

    `prompts` is the whole exchange; `prompt` ends with `<start_of_turn>model\\n`;
    `prompt + completion == prompts`.
    """
    prompt, completion = gemma_example(payload["prompt"], _response(payload), system)
    return {
        "id": trace_id,
        "prompts": prompt + completion,
        "prompt": prompt,
        "completion": completion,
        "final_answer": payload["final_answer"],
        "metadata": record_metadata(trace_id, payload),
    }


def _plain_pair(trace_id: str, payload: Payload, system: str | None, response_key: str) -> Record:
    """`{prompt, <response_key>, metadata}`: plain text, system folded into the prompt."""
    return {
        "prompt": _prompt(payload, system),
        response_key: _response(payload),
        "metadata": record_metadata(trace_id, payload),
    }


def render_training_example(trace_id: str, payload: Payload, system: str | None = None) -> Record:
    """`{prompt, response, metadata}`: plain text, system folded into the prompt."""
    return _plain_pair(trace_id, payload, system, "response")


def render_messages(trace_id: str, payload: Payload, system: str | None = None) -> Record:
    """`{messages: [{role, content}, ...], metadata}`: conversational (TRL, OpenAI-style)."""
    messages = [
        {"role": "user", "content": payload["prompt"].strip()},
        {"role": "assistant", "content": _response(payload)},
    ]
    if system:
        messages.insert(0, {"role": "system", "content": system})
    return {"messages": messages, "metadata": record_metadata(trace_id, payload)}


def render_prompt_completion(trace_id: str, payload: Payload, system: str | None = None) -> Record:
    """`{prompt, completion, metadata}`: TRL's standard prompt-completion form, no markup."""
    return _plain_pair(trace_id, payload, system, "completion")


def render_alpaca(trace_id: str, payload: Payload, system: str | None = None) -> Record:
    """`{instruction, input, output, system}`; `input` and (without a system) `system` are ""."""
    return {
        "instruction": payload["prompt"].strip(),
        "input": "",
        "output": _response(payload),
        "system": system or "",
    }


def render_sharegpt(trace_id: str, payload: Payload, system: str | None = None) -> Record:
    """`{conversations: [{from: human, value}, {from: gpt, value}]}` plus `system` when given."""
    record: Record = {
        "conversations": [
            {"from": "human", "value": payload["prompt"].strip()},
            {"from": "gpt", "value": _response(payload)},
        ]
    }
    if system:
        record["system"] = system
    return record


def render_stepwise(trace_id: str, payload: Payload, system: str | None = None) -> Record:
    """`{prompt, completions, labels}`: step-level supervision (TRL's stepwise form)."""
    completions = step_texts(payload)
    return {
        "prompt": _prompt(payload, system),
        "completions": completions,
        "labels": step_labels(payload, len(completions)),
    }


class EvaluatedRejection(NamedTuple):
    """A model output that an evaluation scored wrong for a trace's prompt."""

    evaluation_id: str
    item_index: int  # the evaluation item's index
    completion: str  # as generated, without `<end_of_turn>`


def render_preference(
    trace_id: str,
    payload: Payload,
    system: str | None = None,
    rejection: EvaluatedRejection | None = None,
) -> Record:
    """`{prompt, chosen, rejected, metadata}`: TRL's standard preference form, in the Gemma chat
    layout. `prompt` and `chosen` are the `tunix_sft` `prompt` and `completion`; `rejected` is
    `rejection`'s completion in the same form, or without one the trace corrupted
    (`formats.corruption`). `metadata` is the shared metadata plus where `rejected` comes from.
    """
    steps = step_texts(payload)
    final_answer: str = payload["final_answer"]
    meta = payload.get("meta")
    expected = expected_answer_of(meta) or final_answer.strip()
    prompt, chosen = gemma_example(
        payload["prompt"], reasoning_response(steps, final_answer).strip(), system
    )
    pairing: Record = {
        "expected_answer": expected,
        "rejected_source": "evaluation",
        "evaluation_id": None,
        "eval_index": None,
        "corrupted_step": None,
    }
    if rejection is not None:
        rejected = gemma_completion(rejection.completion)
        pairing["evaluation_id"] = rejection.evaluation_id
        pairing["eval_index"] = rejection.item_index
    else:
        corrupted = corrupt(trace_id, payload["prompt"], steps, final_answer, expected)
        rejected = gemma_completion(reasoning_response(corrupted.steps, corrupted.final_answer))
        pairing["rejected_source"] = corrupted.kind
        pairing["corrupted_step"] = corrupted.step
    return {
        "prompt": prompt,
        "chosen": chosen,
        "rejected": rejected,
        "metadata": {**record_metadata(trace_id, payload), **pairing},
    }


RENDERERS: Mapping[str, Renderer] = MappingProxyType(
    {
        ExportFormat.TRACE: render_trace,
        ExportFormat.TUNIX_SFT: render_tunix_sft,
        ExportFormat.TRAINING_EXAMPLE: render_training_example,
        ExportFormat.MESSAGES: render_messages,
        ExportFormat.PROMPT_COMPLETION: render_prompt_completion,
        ExportFormat.ALPACA: render_alpaca,
        ExportFormat.SHAREGPT: render_sharegpt,
        ExportFormat.STEPWISE: render_stepwise,
        ExportFormat.PREFERENCE: render_preference,
    }
)


def renderer_for(fmt: str) -> Renderer:
    """The renderer of format `fmt` (a name or an `ExportFormat`); look it up once per export.

    Raises UnknownFormatError.
    """
    try:
        return RENDERERS[fmt]  # an ExportFormat member hashes and compares as its value
    except (KeyError, TypeError):
        raise UnknownFormatError(fmt) from None


def render(fmt: str, trace_id: str, payload: Payload, *, system: str | None = None) -> Record:
    """The record of one trace in format `fmt`. Raises UnknownFormatError, StepLabelsError."""
    return renderer_for(fmt)(trace_id, payload, system)
