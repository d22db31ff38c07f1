"""Evaluation: built-in eval sets and answer scoring."""

from tunix_rt.evals.answers import AnswerMatch, answer_match, normalize_answer
from tunix_rt.evals.evalsets import (
    EVAL_SETS,
    EvalSetSpec,
    UnknownEvalSetError,
    eval_set_digest,
    get_eval_set,
    iter_eval_set,
)

__all__ = [
    "EVAL_SETS",
    "AnswerMatch",
    "EvalSetSpec",
    "UnknownEvalSetError",
    "answer_match",
    "eval_set_digest",
    "get_eval_set",
    "iter_eval_set",
    "normalize_answer",
]
