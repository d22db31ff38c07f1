"""Tokenizer training, loss masks, batching and `inspect_example` (no JAX needed)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tunix_rt.training import data as data_lib
from tunix_rt.training.tokenizer import (
    BOS_ID,
    CONTROL_TOKENS,
    END_OF_TURN,
    PAD_ID,
    START_OF_TURN,
    TokenizerError,
    control_token_ids,
    load_tokenizer,
    train_tokenizer,
)


@pytest.fixture(scope="module")
def tokenizer_path(arithmetic_jsonl: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    records = data_lib.read_records(arithmetic_jsonl)
    path = tmp_path_factory.mktemp("tok") / "tokenizer.model"
    train_tokenizer(
        [text for r in records for text in (r.prompt, r.completion)], path, vocab_size=512
    )
    return path


def test_control_tokens_are_single_pieces(tokenizer_path: Path) -> None:
    processor = load_tokenizer(tokenizer_path)
    assert processor.pad_id() == PAD_ID == 0
    assert processor.bos_id() == BOS_ID
    ids = control_token_ids(processor)
    for token in CONTROL_TOKENS:
        assert processor.encode(token) == [ids[token]]
        assert processor.id_to_piece(ids[token]) == token
    text = f"{START_OF_TURN}user\nWhat is 1 + 2?{END_OF_TURN}\n{START_OF_TURN}model\n"
    pieces = processor.encode(text, out_type=str)
    assert pieces[0] == START_OF_TURN
    assert pieces.count(START_OF_TURN) == 2
    assert pieces.count(END_OF_TURN) == 1


@pytest.mark.parametrize(
    "text",
    [
        "Reasoning:\n1. Ones: 2 + 5 = 7.\nAnswer: 67<end_of_turn>\n",
        "\n\nleading newlines and  double  spaces \n",
        "tabs\tand unicode: 12 \u00d7 3 = 36, caf\u00e9, \u65e5\u672c, \U0001f600\n",
        "<start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\n",
    ],
)
def test_text_round_trips_exactly(tokenizer_path: Path, text: str) -> None:
    processor = load_tokenizer(tokenizer_path)
    assert processor.decode(processor.encode(text)) == text


def test_training_is_deterministic(arithmetic_jsonl: Path, tmp_path: Path) -> None:
    records = data_lib.read_records(arithmetic_jsonl)[:50]
    texts = [text for r in records for text in (r.prompt, r.completion)]
    train_tokenizer(texts, tmp_path / "a.model", vocab_size=400)
    train_tokenizer(texts, tmp_path / "b.model", vocab_size=400)
    assert (tmp_path / "a.model").read_bytes() == (tmp_path / "b.model").read_bytes()


def test_tokenizer_without_control_pieces_is_refused(tmp_path: Path) -> None:
    import sentencepiece as spm

    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(["plain text without any control pieces"] * 20),
        model_prefix=str(tmp_path / "plain"),
        vocab_size=40,
        pad_id=0,
        unk_id=1,
        bos_id=2,
        eos_id=3,
        hard_vocab_limit=False,
        minloglevel=2,
    )
    with pytest.raises(TokenizerError, match="splits <start_of_turn>"):
        load_tokenizer(tmp_path / "plain.model")


def test_inspect_example_masks_exactly_the_completion(
    arithmetic_jsonl: Path, tokenizer_path: Path
) -> None:
    record = json.loads(arithmetic_jsonl.read_text().splitlines()[1])
    views = data_lib.inspect_example(arithmetic_jsonl, 1, tokenizer_path)
    processor = load_tokenizer(tokenizer_path)
    prompt_ids = processor.encode(record["prompt"])
    completion_ids = processor.encode(record["completion"])
    assert [v.token_id for v in views] == [BOS_ID, *prompt_ids, *completion_ids]
    assert [v.trained for v in views] == [False] * (1 + len(prompt_ids)) + [True] * len(
        completion_ids
    )
    # The prompt (BOS, user turn, `<start_of_turn>model\n`) is not trained on ...
    untrained = [v.piece for v in views if not v.trained]
    assert untrained[0] == "<bos>"
    assert untrained[-3:] == [START_OF_TURN, "model", "\n"]
    # ... the completion is, up to and including `<end_of_turn>` and its newline.
    trained = [v for v in views if v.trained]
    assert trained[-2].piece == END_OF_TURN and trained[-1].piece == "\n"
    assert processor.decode([v.token_id for v in trained]) == record["completion"]
    assert "".join(v.piece for v in views[1:]).replace("\u2581", " ") == record["prompts"]
    with pytest.raises(data_lib.DatasetError, match="out of range"):
        data_lib.inspect_example(arithmetic_jsonl, 300, tokenizer_path)


def test_prepare_pads_masks_truncates_and_drops(tokenizer_path: Path) -> None:
    processor = load_tokenizer(tokenizer_path)
    short = data_lib.SftRecord(f"{START_OF_TURN}user\nHi{END_OF_TURN}\n", "Hello" + END_OF_TURN)
    long = data_lib.SftRecord(f"{START_OF_TURN}user\nHi{END_OF_TURN}\n", "word " * 200)
    huge_prompt = data_lib.SftRecord("x " * 300, "ok")
    prepared = data_lib.prepare([short, long, huge_prompt], processor, 128)
    assert prepared.size == 2 and prepared.dropped == 1 and prepared.truncated == 1
    assert prepared.seq_len == 128
    prompt, completion = data_lib.encode_record(processor, short)
    n = len(prompt) + len(completion)
    assert prepared.tokens[0, :n].tolist() == prompt + completion
    assert (prepared.tokens[0, n:] == PAD_ID).all()
    assert prepared.mask[0].tolist() == [False] * len(prompt) + [True] * len(completion) + [
        False
    ] * (128 - n)
    assert prepared.mask[1].sum() == 128 - len(prompt)


def test_batches_and_eval_split_are_deterministic(
    arithmetic_jsonl: Path, tokenizer_path: Path
) -> None:
    processor = load_tokenizer(tokenizer_path)
    prepared = data_lib.prepare(data_lib.read_records(arithmetic_jsonl), processor, 256)
    assert prepared.seq_len % 16 == 0
    train, held_out = data_lib.split_eval(prepared, 0.1)
    assert (train.size, held_out.size) == (270, 30)
    assert (held_out.tokens == prepared.tokens[270:]).all()

    lengths = train.lengths

    def first(seed: int, count: int) -> list[tuple[list[int], int]]:
        plan = data_lib.batch_plan(lengths, 8, seed, train.seq_len, bucket=16)
        return [(indices.tolist(), width) for indices, width in (next(plan) for _ in range(count))]

    assert first(0, 40) == first(0, 40)
    assert first(0, 40) != first(1, 40)
    batches = first(0, 10 * train.size // 8)  # ten epochs' worth
    widths = set()
    for indices, width in batches:
        assert len(indices) == 8 and (width % 16 == 0 or width == train.seq_len)
        # Each batch is cut to its bucket, and holds only examples of that bucket.
        assert all(width - 16 < lengths[i] <= width for i in indices)
        widths.add(width)
    assert len(widths) > 1  # the traces' lengths span several 16-token buckets
    counts = np.bincount([i for indices, _ in batches for i in indices], minlength=train.size)
    assert counts.min() >= 9 and counts.max() <= 11  # every example about once per epoch
    batches = data_lib.eval_batches(held_out, 8)
    assert len(batches) == 4
    assert not batches[-1][1][6:].any() and (batches[-1][0][6:] == PAD_ID).all()
    assert data_lib.total_steps(270, 8, 3, None) == 102
    assert data_lib.total_steps(270, 8, 3, 5) == 5


def test_bad_dataset_lines_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"prompt": "p", "completion": "c"}\n{"prompt": "p"}\n')
    with pytest.raises(data_lib.DatasetError, match=r"bad.jsonl:2"):
        data_lib.read_records(path)


def test_server_and_data_code_never_import_jax() -> None:
    code = (
        "import sys\n"
        "import tunix_rt.api.app, tunix_rt.cli, tunix_rt.runs.manifest, tunix_rt.training.data\n"
        "import tunix_rt.training.tokenizer, tunix_rt.datasets.sft_export\n"
        "heavy = ('jax', 'flax', 'optax', 'tunix', 'qwix', 'orbax')\n"
        "print([m for m in heavy if m in sys.modules])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_arrays_have_expected_dtypes(arithmetic_jsonl: Path, tokenizer_path: Path) -> None:
    processor = load_tokenizer(tokenizer_path)
    prepared = data_lib.prepare(data_lib.read_records(arithmetic_jsonl)[:5], processor, 256)
    assert prepared.tokens.dtype == np.int32 and prepared.mask.dtype == np.bool_
