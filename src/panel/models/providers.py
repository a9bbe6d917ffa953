"""litellm start-up and the providers panel registers with it.

Importing litellm costs seconds, so it happens once, on the first real call. Two providers are
registered here: `scripted/...` (panel.models.scripted, for tests) and `local/...`
(panel.models.local, the embedded llama.cpp model). What else panel knows about them (how they are
checked, priced, where they run) is in their records in panel.models.backends.
"""

from __future__ import annotations

import gc
import os

_litellm = None


def get_litellm():
    """Import and configure litellm once. Costs seconds, so only a real call gets here."""
    global _litellm
    if _litellm is None:
        # Offline, litellm would otherwise try to download its cost map at import.
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        import litellm

        litellm.telemetry = False
        litellm.suppress_debug_info = True
        litellm.num_retries = 0  # litellm retries every error and ignores Retry-After; tenacity does it here
        litellm.custom_provider_map = [
            {"provider": "scripted", "custom_handler": _make_scripted_handler(litellm)()},
            {"provider": "local", "custom_handler": _make_local_handler(litellm)()},
        ]
        _skip_unheard_success_logs(litellm)
        _litellm = litellm
        settle_heap()  # litellm leaves ~400k long-lived objects behind its import
    return _litellm


def settle_heap() -> None:
    """After a model client's import (litellm's, or the openai SDK's with langgraph and pydantic
    already in), before a batch: every full garbage collection would walk the hundreds of thousands
    of long-lived objects those imports left behind again, which cost about 1 ms of CPU per call in
    a batch (bench/bench_batch.py). Freezing moves what exists now out of the collector's sight.
    A batch also allocates a few thousand short-lived objects per call (requests, responses, graph
    state); collecting the young generation every 700 allocations cost ~0.3 ms of CPU per call.
    Every 10,000 is still frequent enough that cyclic garbage never piles up."""
    gc.freeze()
    threshold0, threshold1, threshold2 = gc.get_threshold()
    gc.set_threshold(max(threshold0, 10_000), threshold1, threshold2)


# litellm's lists of logging callbacks; panel registers none (its audit trail is the SQLite store).
_LITELLM_LISTENERS = ("callbacks", "success_callback", "_async_success_callback", "input_callback", "service_callback")


def _skip_unheard_success_logs(litellm) -> None:
    """After every successful call litellm queues a coroutine that builds a full logging payload
    (cost breakdown, redacted deep copies of the messages) for its callbacks: ~0.6 ms of CPU per
    call (bench/bench_batch.py), for nobody when no callback is registered. While none is, close
    that coroutine unrun. litellm has no switch for this; if its internals move, nothing changes."""
    try:
        from litellm.litellm_core_utils.logging_worker import GLOBAL_LOGGING_WORKER as worker
    except ImportError:
        return
    enqueue = getattr(worker, "ensure_initialized_and_enqueue", None)
    if enqueue is None:
        return

    def enqueue_if_heard(async_coroutine):
        name = getattr(async_coroutine, "__qualname__", "")
        if name.endswith("async_success_handler") and not any(
            getattr(litellm, attr, None) for attr in _LITELLM_LISTENERS
        ):
            async_coroutine.close()
            return None
        return enqueue(async_coroutine)

    worker.ensure_initialized_and_enqueue = enqueue_if_heard


def _fill_response(litellm, model_response, model: str, text: str, prompt_tokens: int, completion_tokens: int):
    model_response.choices[0].message.content = text
    model_response.model = model
    model_response.usage = litellm.Usage(
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        total_tokens=prompt_tokens + completion_tokens,
    )
    return model_response


def _make_scripted_handler(litellm):
    from . import scripted

    class ScriptedHandler(litellm.CustomLLM):
        async def acompletion(self, model, messages, api_base, custom_prompt_dict, model_response, *args, **kwargs):
            params = kwargs.get("optional_params") or (args[5] if len(args) > 5 else {})
            text = scripted.respond(model, messages, params)
            words = sum(len(m["content"].split()) for m in messages)
            return _fill_response(litellm, model_response, f"scripted/{model}", text, words, len(text.split()))

    return ScriptedHandler


def _make_local_handler(litellm):
    class LocalHandler(litellm.CustomLLM):
        async def acompletion(self, model, messages, api_base, custom_prompt_dict, model_response, *args, **kwargs):
            from . import local

            params = kwargs.get("optional_params") or (args[5] if len(args) > 5 else {})
            out = await local.acomplete(
                model,
                messages,
                temperature=params.get("temperature"),
                max_tokens=params.get("max_tokens"),
                response_format=params.get("response_format"),
                seed=params.get("seed"),
            )
            return _fill_response(
                litellm, model_response, f"local/{model}", out.text, out.prompt_tokens, out.completion_tokens
            )

    return LocalHandler
