"""--router FILE: a LiteLLM Router serving some model names from several deployments (rpm/tpm caps,
fallbacks, cooldowns), used by the seam instead of one --api-base. (Being written: see issue 13.)"""

from __future__ import annotations


def load_router(path: str | None):
    """The Router described by a YAML model_list file, or None without one."""
    if path is None:
        return None
    raise NotImplementedError("--router is not built yet")
