"""The Gemma instruction-tuned chat layout, as Gemma's published chat template renders it.

Verified character for character (tests/formats/test_gemma_template.py) against the Jinja
`chat_template` of the Gemma 3 IT tokenizers (google/gemma-3-*-it `tokenizer_config.json`) and,
for conversations without a system instruction, of the Gemma 2 IT tokenizers
(google/gemma-2-2b-it). What the template does, and what this module reproduces:

* every message content is trimmed (`| trim`, i.e. Python's `str.strip()`);
* Gemma has no system role: the Gemma 3 template folds a leading system message into the first
  user turn as `{system}\\n\\n{user}`; the system text itself is *not* trimmed;
* the assistant role is called `model`; every turn ends with `<end_of_turn>\\n`;
* `add_generation_prompt=True` appends `<start_of_turn>model\\n`.

The template starts with `{{ bos_token }}`; these strings never contain `<bos>` because the
tokenizer adds BOS as a token id, and a textual `<bos>` would give a second one.
"""

from __future__ import annotations

BOS = "<bos>"
START_OF_TURN = "<start_of_turn>"
END_OF_TURN = "<end_of_turn>"

USER_TURN_OPEN = START_OF_TURN + "user\n"
MODEL_TURN_OPEN = START_OF_TURN + "model\n"
TURN_CLOSE = END_OF_TURN + "\n"


def gemma_prompt(user: str, system: str | None = None) -> str:
    """The user turn plus the generation prompt (the template with `add_generation_prompt`).

    A falsy `system` (None or "") means no system instruction.
    """
    if system:
        return f"{USER_TURN_OPEN}{system}\n\n{user.strip()}{TURN_CLOSE}{MODEL_TURN_OPEN}"
    return f"{USER_TURN_OPEN}{user.strip()}{TURN_CLOSE}{MODEL_TURN_OPEN}"


def gemma_completion(response: str) -> str:
    """The model turn's content and its end: what follows `gemma_prompt` in a full example."""
    return response.strip() + TURN_CLOSE


def gemma_example(user: str, response: str, system: str | None = None) -> tuple[str, str]:
    """`(prompt, completion)` of one user/model exchange; `prompt + completion` is the whole
    conversation as the template renders it (without the leading `<bos>`)."""
    return gemma_prompt(user, system), gemma_completion(response)
