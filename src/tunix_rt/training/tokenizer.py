"""SentencePiece tokenizers for training: trained on a run's dataset (tiny) or loaded from disk.

Needs the `train` extra (sentencepiece); imports it lazily, never JAX. Text is always encoded
with a raw `SentencePieceProcessor` that has no extra options: BOS is added by the caller once,
in front of the prompt, and nothing runs Tunix's `Tokenizer.tokenize` (which strips Gemma's
control tokens from the text it is given).
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tunix_rt.atomic_file import atomic_file
from tunix_rt.errors import InvalidInputError

if TYPE_CHECKING:
    import sentencepiece as spm

START_OF_TURN = "<start_of_turn>"
END_OF_TURN = "<end_of_turn>"
CONTROL_TOKENS = (START_OF_TURN, END_OF_TURN)

MAX_PIECE_CHARS = 64
# Gemma's layout of the special ids, so a trained tokenizer and a real Gemma one agree on them.
PAD_ID, EOS_ID, BOS_ID, UNK_ID = 0, 1, 2, 3
_SPECIAL_IDS = {"pad": PAD_ID, "eos": EOS_ID, "bos": BOS_ID, "unk": UNK_ID}
#: The trainer options that name the special pieces and give them those ids: `pad_id=0`,
#: `pad_piece="<pad>"`, and so on for eos, bos and unk.
_SPECIAL_PIECE_OPTIONS: dict[str, Any] = {
    **{f"{kind}_id": piece_id for kind, piece_id in _SPECIAL_IDS.items()},
    **{f"{kind}_piece": f"<{kind}>" for kind in _SPECIAL_IDS},
}


class TokenizerError(InvalidInputError):
    """A tokenizer that cannot be trained, loaded, or used for Gemma chat data."""


def train_tokenizer(
    texts: Iterable[str], output_path: Path, *, vocab_size: int, seed: int = 0
) -> spm.SentencePieceProcessor:
    """Train a Gemma-style SentencePiece BPE model on `texts` and write it to `output_path`.

    Like Gemma's tokenizer: pad=0, eos=1, bos=2, unk=3; `<start_of_turn>`, `<end_of_turn>` and
    the newline are single user-defined pieces; identity normalisation, no dummy prefix, no
    whitespace collapsing, digits split, byte fallback; so every text round-trips exactly.
    Unlike it, a piece may span words and punctuation (up to MAX_PIECE_CHARS characters): a
    run's dataset repeats its phrasing, and a phrase learnt as one piece leaves the model's
    sequence to the tokens that carry information (shorter sequences, so faster training;
    docs/evaluation.md gives the figures). Deterministic for the same texts (single-threaded,
    no input sampling).
    """
    import sentencepiece as spm

    sentences = [text for text in texts if text]
    if not sentences:
        raise TokenizerError("cannot train a tokenizer on an empty dataset", loc=("dataset",))
    spm.set_random_generator_seed(seed)
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(sentences),
        model_writer=model,
        model_type="bpe",
        vocab_size=vocab_size,
        hard_vocab_limit=False,
        **_SPECIAL_PIECE_OPTIONS,
        user_defined_symbols=[*CONTROL_TOKENS, "\n"],
        byte_fallback=True,
        split_digits=True,
        split_by_whitespace=False,
        split_by_unicode_script=False,
        max_sentencepiece_length=MAX_PIECE_CHARS,
        normalization_rule_name="identity",
        remove_extra_whitespaces=False,
        add_dummy_prefix=False,
        allow_whitespace_only_pieces=True,
        max_sentence_length=1 << 20,
        input_sentence_size=0,
        shuffle_input_sentence=False,
        num_threads=1,
        minloglevel=2,
    )
    output_path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(output_path) as out:  # whole or not at all
        out.write(model.getvalue())
    processor = spm.SentencePieceProcessor(model_proto=model.getvalue())
    check_tokenizer(processor)
    return processor


def load_tokenizer(path: Path) -> spm.SentencePieceProcessor:
    """A raw SentencePiece processor (no BOS/EOS options) for `path`, checked for Gemma chat."""
    import sentencepiece as spm

    if not path.is_file():
        raise TokenizerError(f"tokenizer {path} does not exist", loc=("tokenizer", "path"))
    processor = spm.SentencePieceProcessor()
    try:
        processor.Load(str(path))
    except (OSError, RuntimeError) as exc:
        raise TokenizerError(
            f"tokenizer {path} is not a SentencePiece model: {exc}", loc=("tokenizer", "path")
        ) from None
    check_tokenizer(processor)
    return processor


def check_tokenizer(processor: spm.SentencePieceProcessor) -> None:
    """Pad id 0 (Tunix builds the attention mask from `tokens != 0`), BOS defined, and the
    Gemma control tokens encoded as one piece each."""
    if processor.pad_id() != PAD_ID:
        raise TokenizerError(
            f"the tokenizer's pad id is {processor.pad_id()}, Tunix needs 0",
            loc=("tokenizer", "path"),
        )
    if processor.bos_id() < 0:
        raise TokenizerError("the tokenizer has no BOS piece", loc=("tokenizer", "path"))
    for token in CONTROL_TOKENS:
        if len(processor.encode(token)) != 1:
            raise TokenizerError(
                f"the tokenizer splits {token} into several pieces", loc=("tokenizer", "path")
            )


def control_token_ids(processor: spm.SentencePieceProcessor) -> dict[str, int]:
    """`{piece: id}` for Gemma's control tokens."""
    return {token: int(processor.piece_to_id(token)) for token in CONTROL_TOKENS}
