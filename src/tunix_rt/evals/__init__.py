"""Evaluation: built-in eval sets, answer extraction and matching, evaluations as jobs,
scorecards, the leaderboard and comparisons.

Its modules (each imported by name; importing the package loads none of them, so scoring a
trace's answer does not load the eval sets and their generators):

- `answers`: exact-match answer scoring after light normalisation (traces and model outputs)
- `completions`: reading a completion's `Reasoning:` / `Answer:` layout
- `rewards`: verifiable rewards for reinforcement learning (answer, format, steps, length)
- `evalsets`: the built-in, versioned, pinned eval sets
- `targets`: what an evaluation runs on (an eval set, or a dataset split with expected answers)
- `schema`: evaluation requests, records, scorecards, items, leaderboard rows, comparisons
- `scoring`: scoring completions, items and whole sets (Wilson interval, majority vote, pass@n)
- `store`: evaluation rows and items: create, read, page, rank, compare
- `service`: evaluations as the API and the CLI use them: submit, read, store outputs, gate
- `job`: executing one evaluation in a worker process (imports `tunix_rt.training`)
"""

__all__ = [
    "answers",
    "completions",
    "evalsets",
    "job",
    "rewards",
    "schema",
    "scoring",
    "service",
    "store",
    "targets",
]
