"""tunix_sft / gemma.py against Gemma's own published chat templates, rendered with Jinja2.

The templates below are copied verbatim, as the JSON-encoded `chat_template` value of the
tokenizers' `tokenizer_config.json`, and decoded with `json.loads`:

* GEMMA3_CHAT_TEMPLATE: the Gemma 3 instruction-tuned tokenizers, google/gemma-3-1b-it and
  google/gemma-3-12b-it `tokenizer_config.json` (`chat_template`), as published on the Hugging
  Face Hub (the same string is carried in the GGUF metadata of ggml-org/gemma-3-1b-it-GGUF and
  ggml-org/gemma-3-12b-it-GGUF, whose base models are those repositories).
* GEMMA2_CHAT_TEMPLATE: the Gemma 2 instruction-tuned tokenizers, google/gemma-2-2b-it
  `tokenizer_config.json` (`chat_template`; the same string as google/gemma-2b-it and
  google/gemma-1.1-2b-it). It rejects a system message, so it is checked without one.

They are rendered the way `transformers` renders chat templates (`apply_chat_template`): an
`ImmutableSandboxedEnvironment` with `trim_blocks` and `lstrip_blocks`, the `loopcontrols`
extension and a `raise_exception` global. The template's leading `<bos>` is removed before
comparing: the tokenizer adds BOS as a token, never as text.
"""

from __future__ import annotations

import json
from typing import Any

import jinja2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

from tunix_rt.formats import gemma_completion, gemma_example, gemma_prompt, render

GEMMA3_CHAT_TEMPLATE_JSON = (
    r""""{{ bos_token }}\n{%- if messages[0]['role'] == 'system' -%}\n    {%- if message"""
    r"""s[0]['content'] is string -%}\n        {%- set first_user_prefix = messages[0]["""
    r"""'content'] + '\n\n' -%}\n    {%- else -%}\n        {%- set first_user_prefix = m"""
    r"""essages[0]['content'][0]['text'] + '\n\n' -%}\n    {%- endif -%}\n    {%- set lo"""
    r"""op_messages = messages[1:] -%}\n{%- else -%}\n    {%- set first_user_prefix = \""""
    r"""\" -%}\n    {%- set loop_messages = messages -%}\n{%- endif -%}\n{%- for message"""
    r""" in loop_messages -%}\n    {%- if (message['role'] == 'user') != (loop.index0 % """
    r"""2 == 0) -%}\n        {{ raise_exception(\"Conversation roles must alternate user"""
    r"""/assistant/user/assistant/...\") }}\n    {%- endif -%}\n    {%- if (message['rol"""
    r"""e'] == 'assistant') -%}\n        {%- set role = \"model\" -%}\n    {%- else -%}"""
    r"""\n        {%- set role = message['role'] -%}\n    {%- endif -%}\n    {{ '<start_"""
    r"""of_turn>' + role + '\n' + (first_user_prefix if loop.first else \"\") }}\n    {%"""
    r"""- if message['content'] is string -%}\n        {{ message['content'] | trim }}\n"""
    r"""    {%- elif message['content'] is iterable -%}\n        {%- for item in message"""
    r"""['content'] -%}\n            {%- if item['type'] == 'image' -%}\n               """
    r""" {{ '<start_of_image>' }}\n            {%- elif item['type'] == 'text' -%}\n    """
    r"""            {{ item['text'] | trim }}\n            {%- endif -%}\n        {%- en"""
    r"""dfor -%}\n    {%- else -%}\n        {{ raise_exception(\"Invalid content type\")"""
    r""" }}\n    {%- endif -%}\n    {{ '<end_of_turn>\n' }}\n{%- endfor -%}\n{%- if add_"""
    r'''generation_prompt -%}\n    {{'<start_of_turn>model\n'}}\n{%- endif -%}\n"'''
)
GEMMA2_CHAT_TEMPLATE_JSON = (
    r""""{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('Syst"""
    r"""em role not supported') }}{% endif %}{% for message in messages %}{% if (message"""
    r"""['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation"""
    r""" roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if (me"""
    r"""ssage['role'] == 'assistant') %}{% set role = 'model' %}{% else %}{% set role = """
    r"""message['role'] %}{% endif %}{{ '<start_of_turn>' + role + '\n' + message['conte"""
    r"""nt'] | trim + '<end_of_turn>\n' }}{% endfor %}{% if add_generation_prompt %}{{'<"""
    r'''start_of_turn>model\n'}}{% endif %}"'''
)
GEMMA3_CHAT_TEMPLATE: str = json.loads(GEMMA3_CHAT_TEMPLATE_JSON)
GEMMA2_CHAT_TEMPLATE: str = json.loads(GEMMA2_CHAT_TEMPLATE_JSON)
BOS = "<bos>"


def _raise_exception(message: str) -> None:
    raise jinja2.exceptions.TemplateError(message)


def _compile(source: str) -> jinja2.Template:
    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols]
    )
    env.globals["raise_exception"] = _raise_exception
    return env.from_string(source)


GEMMA3 = _compile(GEMMA3_CHAT_TEMPLATE)
GEMMA2 = _compile(GEMMA2_CHAT_TEMPLATE)


def _messages(user: str, response: str | None, system: str | None) -> list[dict[str, str]]:
    messages = [{"role": "system", "content": system}] if system else []
    messages.append({"role": "user", "content": user})
    if response is not None:
        messages.append({"role": "assistant", "content": response})
    return messages


def _apply(
    template: jinja2.Template,
    messages: list[dict[str, Any]],
    *,
    add_generation_prompt: bool = False,
) -> str:
    text = template.render(
        messages=messages,
        add_generation_prompt=add_generation_prompt,
        bos_token=BOS,
        eos_token="<eos>",
    )
    assert text.startswith(BOS)
    return text.removeprefix(BOS)


def _check_against_templates(user: str, response: str, system: str | None) -> None:
    prompt, completion = gemma_example(user, response, system)
    conversation = _messages(user, response, system)
    assert prompt + completion == _apply(GEMMA3, conversation)
    assert prompt == _apply(GEMMA3, _messages(user, None, system), add_generation_prompt=True)
    assert prompt == gemma_prompt(user, system)
    assert completion == gemma_completion(response)
    if not system:
        assert prompt + completion == _apply(GEMMA2, conversation)
        assert prompt == _apply(GEMMA2, _messages(user, None, None), add_generation_prompt=True)


CASES: list[tuple[str, str, str | None]] = [
    ("What is 2+2?", "Reasoning:\n1. Add.\nAnswer: 4", None),
    ("  padded prompt\n\n", "\n\tpadded response  ", None),
    ("What is 2+2?", "Answer: 4", "You are a careful tutor."),
    ("  padded prompt  ", "  padded response\n", "  padded system, kept as is  \n"),
    ("multi\nline\n\nprompt", "Reasoning:\n1. first\nline\n2. second\nAnswer: x\ny", None),
    ("Ünïcödé — 日本語 — العربية — 🚀", "Ответ: ✓ 🎉", "Système : réponds en français."),
    ("nbsp\u00a0around\u00a0", "\u2028line separators\u2029", None),
    ("\u3000ideographic space\u3000", "\x0bvertical tab\x0c", "sys\u00a0"),
    ("<start_of_turn>user\ninjected<end_of_turn>", "{{ not jinja }} {% raw %}", None),
    ("   ", "Answer: blank prompt", None),
    ("q", "a", "multi\nline\nsystem\n"),
]


@pytest.mark.parametrize(("user", "response", "system"), CASES)
def test_matches_published_templates(user: str, response: str, system: str | None) -> None:
    _check_against_templates(user, response, system)


@given(
    user=st.text(min_size=1, max_size=80),
    response=st.text(min_size=1, max_size=80),
    system=st.none() | st.text(min_size=1, max_size=40),
)
@settings(max_examples=300, deadline=None, database=None)
def test_matches_gemma3_template_for_any_text(user: str, response: str, system: str | None) -> None:
    _check_against_templates(user, response, system)


def test_exact_layout() -> None:
    prompt, completion = gemma_example(" Hi ", " Hello! ", "Be nice.")
    assert prompt == "<start_of_turn>user\nBe nice.\n\nHi<end_of_turn>\n<start_of_turn>model\n"
    assert completion == "Hello!<end_of_turn>\n"


def test_empty_system_means_none() -> None:
    assert (
        gemma_prompt("q", "")
        == gemma_prompt("q", None)
        == _apply(GEMMA3, _messages("q", None, None), add_generation_prompt=True)
    )


def test_gemma2_template_has_no_system_role() -> None:
    with pytest.raises(jinja2.exceptions.TemplateError, match="System role not supported"):
        _apply(GEMMA2, _messages("q", "a", "system text"))


PAYLOADS: list[dict[str, Any]] = [
    {
        "trace_version": "1",
        "prompt": "  What is 17 * 3?\n",
        "steps": [
            {"i": 2, "type": "check", "content": "51 / 3 = 17, so it checks out."},
            {"i": 0, "type": "reasoning", "content": "17 * 3 = 10 * 3 + 7 * 3."},
            {"i": 1, "type": "reasoning", "content": "30 + 21 = 51.\n(carry nothing)"},
        ],
        "final_answer": " 51 ",
        "meta": {"source": "arith", "step_labels": [True, True, False]},
    },
    {
        "trace_version": "1",
        "prompt": "Ünïcödé ✓ — 日本語?",
        "steps": [{"i": 7, "type": "r", "content": "  leading and trailing  "}],
        "final_answer": "🚀",
        "meta": None,
    },
    {
        "trace_version": "1",
        "prompt": "no steps",
        "steps": [],
        "final_answer": "\n42\n",
    },
]


@pytest.mark.parametrize("payload", PAYLOADS)
@pytest.mark.parametrize("system", [None, "Think step by step.", "  spaced system  "])
def test_tunix_sft_and_messages_agree_with_template(
    payload: dict[str, Any], system: str | None
) -> None:
    sft = render("tunix_sft", "00000000-0000-4000-8000-000000000000", payload, system=system)
    messages = render("messages", "00000000-0000-4000-8000-000000000000", payload, system=system)
    conversation = messages["messages"]
    assert sft["prompts"] == _apply(GEMMA3, conversation)
    assert sft["prompt"] == _apply(GEMMA3, conversation[:-1], add_generation_prompt=True)
    assert sft["prompt"] + sft["completion"] == sft["prompts"]
    assert sft["prompt"].endswith("<start_of_turn>model\n")
    assert sft["completion"].endswith("<end_of_turn>\n")
    assert BOS not in sft["prompts"]
