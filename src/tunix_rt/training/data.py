"""`tunix_sft` JSON Lines → token ids, loss masks and deterministic batches. No JAX.

Each record's `prompt` (ending in `<start_of_turn>model\\n`) is encoded with BOS once and no
EOS; its `completion` (the model turn, ending in `<end_of_turn>\\n`) with no special pieces.
The input is their concatenation; the loss mask is 1 on the completion tokens only (so the model
learns to emit `<end_of_turn>`), 0 on the prompt and on padding. Padding id is 0.

Needs numpy and sentencepiece (the `train` extra); `inspect_example` is what
`tunix-rt datasets inspect` prints.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple, TypeVar

import numpy as np

from tunix_rt.errors import InvalidInputError
from tunix_rt.training.tokenizer import PAD_ID, load_tokenizer

if TYPE_CHECKING:
    import sentencepiece as spm

SEQ_LEN_MULTIPLE = 16
#: Training batches group examples of similar length: each batch is cut to its longest
#: example's bucket (a multiple of this many tokens), so a step computes on little padding, and
#: a run compiles one step per bucket (a few) instead of one.
BUCKET_TOKENS = 32

_Record = TypeVar("_Record")


class DatasetError(InvalidInputError):
    """A training file that cannot be read as `tunix_sft` records."""


@dataclass(frozen=True)
class SftRecord:
    prompt: str
    completion: str


@dataclass(frozen=True)
class TokenizedExample:
    tokens: tuple[int, ...]
    mask: tuple[bool, ...]
    truncated: bool


class TokenView(NamedTuple):
    """One token of an encoded example: its piece, its id, and whether the loss covers it."""

    piece: str
    token_id: int
    trained: bool


@dataclass(frozen=True)
class PreparedData:
    """The examples that fit, as fixed-length arrays, and what was cut or dropped."""

    tokens: np.ndarray  # [N, seq_len] int32, padded with 0
    mask: np.ndarray  # [N, seq_len] bool, the loss mask
    seq_len: int
    truncated: int
    dropped: int

    @property
    def size(self) -> int:
        return int(self.tokens.shape[0])

    @property
    def lengths(self) -> np.ndarray:
        """Non-padding tokens per example."""
        counts: np.ndarray = np.count_nonzero(self.tokens != PAD_ID, axis=1)
        return counts

    def subset(self, start: int, stop: int) -> PreparedData:
        return PreparedData(self.tokens[start:stop], self.mask[start:stop], self.seq_len, 0, 0)


def json_rows(path: Path) -> Iterator[tuple[int, object]]:
    """(line number, parsed JSON) of every non-blank line of a dataset file, for the readers
    of each format to check; a missing file or a line that is not JSON is a `DatasetError`."""
    if not path.is_file():
        raise DatasetError(f"dataset file {path} does not exist", loc=("dataset", "path"))
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                row = json.loads(raw)
            except ValueError as exc:
                raise DatasetError(f"{path}:{number}: not JSON: {exc}") from None
            yield number, row


def some_records(records: list[_Record], path: Path) -> list[_Record]:
    """`records`, refused when the file held none."""
    if not records:
        raise DatasetError(f"dataset file {path} has no records", loc=("dataset", "path"))
    return records


def read_records(path: Path) -> list[SftRecord]:
    """Every line of a `tunix_sft` JSONL file (only `prompt` and `completion` are read)."""
    records = [sft_record(row, f"{path}:{number}") for number, row in json_rows(path)]
    return some_records(records, path)


def sft_record(row: object, where: str) -> SftRecord:
    """The `prompt` and `completion` of one parsed `tunix_sft` line (`where`: its file:line)."""
    prompt = row.get("prompt") if isinstance(row, dict) else None
    completion = row.get("completion") if isinstance(row, dict) else None
    if not isinstance(prompt, str) or not isinstance(completion, str) or not completion:
        raise DatasetError(
            f"{where}: a tunix_sft record needs string fields 'prompt' and 'completion' (non-empty)"
        )
    return SftRecord(prompt, completion)


def encode_record(
    processor: spm.SentencePieceProcessor, record: SftRecord
) -> tuple[list[int], list[int]]:
    """(prompt ids with one leading BOS, completion ids with no special pieces)."""
    prompt = [int(processor.bos_id()), *processor.encode(record.prompt)]
    completion = [int(token) for token in processor.encode(record.completion)]
    return prompt, completion


def tokenize_record(
    processor: spm.SentencePieceProcessor, record: SftRecord, max_seq_length: int
) -> TokenizedExample | None:
    """Tokens and loss mask, cut to `max_seq_length`; None when not one completion token fits."""
    prompt, completion = encode_record(processor, record)
    if len(prompt) >= max_seq_length or not completion:
        return None
    tokens = (prompt + completion)[:max_seq_length]
    mask = ([False] * len(prompt) + [True] * len(completion))[:max_seq_length]
    truncated = len(prompt) + len(completion) > max_seq_length
    return TokenizedExample(tuple(tokens), tuple(mask), truncated)


def prepare(
    records: Sequence[SftRecord], processor: spm.SentencePieceProcessor, max_seq_length: int
) -> PreparedData:
    """Tokenize every record; pad to the longest kept example rounded up to a multiple of 16
    (never past `max_seq_length`), so every batch has one static shape."""
    examples: list[TokenizedExample] = []
    dropped = 0
    for record in records:
        example = tokenize_record(processor, record, max_seq_length)
        if example is None:
            dropped += 1
        else:
            examples.append(example)
    if not examples:
        raise DatasetError(
            f"no example fits training.max_seq_length={max_seq_length} "
            "(every prompt is at least that long)",
            loc=("training", "max_seq_length"),
        )
    longest = max(len(example.tokens) for example in examples)
    seq_len = min(max_seq_length, math.ceil(longest / SEQ_LEN_MULTIPLE) * SEQ_LEN_MULTIPLE)
    tokens = np.full((len(examples), seq_len), PAD_ID, dtype=np.int32)
    mask = np.zeros((len(examples), seq_len), dtype=np.bool_)
    for row, example in enumerate(examples):
        tokens[row, : len(example.tokens)] = example.tokens
        mask[row, : len(example.mask)] = example.mask
    truncated = sum(example.truncated for example in examples)
    return PreparedData(tokens, mask, seq_len, truncated, dropped)


def split_eval(data: PreparedData, fraction: float) -> tuple[PreparedData, PreparedData]:
    """(train, eval): the eval split is the last ceil(fraction * N) examples, in file order."""
    if data.size < 2:
        raise DatasetError(
            "an eval split needs at least 2 examples", loc=("training", "eval_every_n_steps")
        )
    held_out = min(data.size - 1, max(1, math.ceil(fraction * data.size)))
    cut = data.size - held_out
    return data.subset(0, cut), data.subset(cut, data.size)


def total_steps(train_size: int, batch_size: int, num_epochs: int, max_steps: int | None) -> int:
    """`max_steps` when set, else enough batches for `num_epochs` passes over the data."""
    if max_steps is not None:
        return max_steps
    return max(1, math.ceil(num_epochs * train_size / batch_size))


def batch_plan(
    lengths: np.ndarray, batch_size: int, seed: int, seq_len: int, bucket: int = BUCKET_TOKENS
) -> Iterator[tuple[np.ndarray, int]]:
    """An endless stream of `(row indices, width)` batches.

    Epoch e walks the examples in the permutation `numpy.random.default_rng([seed, e])`; each
    example joins the queue of its length bucket (its length rounded up to `bucket` tokens, at
    most `seq_len`), and a queue that reaches `batch_size` becomes the next batch, cut to that
    width. Queues carry over from epoch to epoch, so every batch is full, every example comes
    once per epoch (give or take the examples still queued), frequent lengths come as often as
    they occur, and the order depends only on (lengths, batch_size, seed, seq_len).
    """
    widths = np.minimum(seq_len, -(-lengths // bucket) * bucket).tolist()
    queues: dict[int, list[int]] = {}
    epoch = 0
    while True:
        for index in np.random.default_rng([seed, epoch]).permutation(len(widths)).tolist():
            queue = queues.setdefault(widths[index], [])
            queue.append(index)
            if len(queue) == batch_size:
                yield np.asarray(queue, dtype=np.int64), widths[index]
                queue.clear()
        epoch += 1


def process_rows(batch_size: int, process_index: int, process_count: int) -> slice:
    """The rows of a global batch that one JAX process feeds (multi-host data parallelism)."""
    if batch_size % process_count:
        raise DatasetError(
            f"training.batch_size {batch_size} must be divisible by the {process_count} processes",
            loc=("training", "batch_size"),
        )
    per_process = batch_size // process_count
    return slice(process_index * per_process, (process_index + 1) * per_process)


def eval_batches(data: PreparedData, batch_size: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The eval split in order, in full batches; the last one is filled with padding rows
    (all-zero loss mask), which add nothing to the loss."""
    batches: list[tuple[np.ndarray, np.ndarray]] = []
    for start in range(0, data.size, batch_size):
        tokens = np.full((batch_size, data.seq_len), PAD_ID, dtype=np.int32)
        mask = np.zeros((batch_size, data.seq_len), dtype=np.bool_)
        chunk = slice(start, min(start + batch_size, data.size))
        rows = chunk.stop - chunk.start
        tokens[:rows] = data.tokens[chunk]
        mask[:rows] = data.mask[chunk]
        batches.append((tokens, mask))
    return batches


def inspect_example(jsonl_path: Path, index: int, tokenizer_path: Path) -> list[TokenView]:
    """The tokens of record `index` (0-based, file order) as the runner encodes them, each with
    its piece, id and whether the loss is computed on it (completion tokens only)."""
    records = read_records(jsonl_path)
    if not 0 <= index < len(records):
        raise DatasetError(
            f"index {index} is out of range: {jsonl_path} has {len(records)} records",
            loc=("index",),
        )
    return inspect_record(records[index], load_tokenizer(tokenizer_path))


def inspect_record(record: SftRecord, processor: spm.SentencePieceProcessor) -> list[TokenView]:
    """The tokens of one record as the runner encodes them, with their loss-mask flag."""
    prompt, completion = encode_record(processor, record)
    return [
        TokenView(str(processor.id_to_piece(token)), token, trained)
        for ids, trained in ((prompt, False), (completion, True))
        for token in ids
    ]
