"""The pre-flight check of a batch's models: before anything is written, every model the batch
names must be able to work, so a misconfigured batch is bad input (exit 2) rather than a store
full of error rows.

It sits above both panel.models.router (the --router file, which knows which names are its own)
and panel.models.backends (every other model string, checked by its backend's record), so neither
of those needs the other's pre-flight.
"""

from __future__ import annotations

from collections.abc import Iterable

from .backends import check_model
from .router import check_router


def check_models(models: Iterable[tuple[str, str | None]], router_file: str | None = None) -> None:
    """Check every (model, api_base) pair once. With a --router file the file is checked too, and a
    name it serves (an alias) is checked through the deployments it can reach, not as a litellm
    model string. Raises ModelConfigError."""
    pairs = sorted({(model, api_base or "") for model, api_base in models})
    served = check_router(router_file, [model for model, _ in pairs])
    for model, api_base in pairs:
        if model not in served:
            check_model(model, api_base or None)
