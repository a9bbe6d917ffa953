"""Narrow exception classes. The CLI turns each into a one-line message and an exit code."""


class PanelError(Exception):
    """Base class: bad input or usage. The CLI exits 2 and writes nothing."""

    exit_code = 2


class BriefError(PanelError):
    """A tool brief file is missing, unreadable or invalid."""


class PersonaError(PanelError):
    """A persona file or its prompt template is invalid."""


class VoteError(PanelError):
    """A vote or a vote file is invalid."""


class ModelConfigError(PanelError):
    """No model configured, or a model that cannot be used at all (e.g. a missing GGUF file)."""


class StoreError(PanelError):
    """The database cannot be opened or is not a panel database."""
