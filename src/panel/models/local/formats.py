"""Message and response-format handling for the local model: OpenAI's response_format in the form
llama-cpp-python enforces, schemas llama.cpp's grammar compiler accepts, and a system message."""

from __future__ import annotations

import json

from ...core.judgment import Judgment
from ...core.verdict import Verdict, grammar_safe_schema

# Used when the caller sends no system message: SmolLM2's chat template otherwise injects its
# own ("You are a helpful AI assistant named SmolLM ..."), which nobody on the panel wrote.
DEFAULT_SYSTEM = "You are a careful assistant. Follow the user's instructions exactly."

# ChatML, for GGUF files that carry no chat template of their own.
CHATML_TEMPLATE = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content']"
    " + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def translate_response_format(response_format: dict | None) -> dict | None:
    """OpenAI's response_format -> the form llama-cpp-python enforces.

    llama-cpp-python only builds a grammar for `{"type": "json_object", "schema": ...}`; given
    `{"type": "json_schema", ...}` it silently generates unconstrained text.
    """
    if response_format is None:
        return None
    kind = response_format.get("type")
    if kind == "json_schema":
        schema = (response_format.get("json_schema") or {}).get("schema")
        return {"type": "json_object", "schema": schema} if schema else {"type": "json_object"}
    if kind == "json_object":
        return dict(response_format)
    if kind in (None, "text"):
        return None
    raise ValueError(f"unsupported response_format type for a local model: {kind!r}")


def is_judgment_schema(schema: dict | None) -> bool:
    return bool(schema) and set((schema.get("properties") or {})) == set(Judgment.model_fields)


def is_verdict_schema(schema: dict | None) -> bool:
    return bool(schema) and set((schema.get("properties") or {})) == set(Verdict.model_fields)


def ensure_system(messages: list[dict]) -> list[dict]:
    """Always send a system message; flatten OpenAI content parts to text."""
    flat = [{"role": m["role"], "content": _text_of(m.get("content"))} for m in messages]
    if not flat or flat[0]["role"] != "system":
        flat.insert(0, {"role": "system", "content": DEFAULT_SYSTEM})
    return flat


def _text_of(content) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") for part in content if isinstance(part, dict))




def grammar_for(vocab, schema: dict | None):
    """A llama.cpp grammar for a JSON schema (or any JSON), refusing grammars llama.cpp rejects:
    a rejected grammar is a NULL sampler, which crashes the process when used."""
    import llama_cpp
    from llama_cpp.llama_grammar import JSON_GBNF, LlamaGrammar

    if schema:
        grammar = LlamaGrammar.from_json_schema(json.dumps(grammar_safe_schema(schema)), verbose=False)
    else:
        grammar = LlamaGrammar.from_string(JSON_GBNF, verbose=False)
    probe = llama_cpp.llama_sampler_init_grammar(
        vocab, grammar._grammar.encode(), grammar._root.encode()
    )
    if not probe:
        raise ValueError("the local model cannot enforce this JSON schema (llama.cpp rejected its grammar)")
    llama_cpp.llama_sampler_free(probe)
    return grammar
