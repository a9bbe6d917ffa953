"""Every exception class panel raises. The CLI turns each PanelError into a one-line message and
its exit code; nothing else in panel decides how an error is shown."""


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


class RerunError(PanelError):
    """A re-run that cannot start: nothing stored, unknown persona or brief, wrong seating."""


class AuditError(PanelError):
    """An audit question that cannot be answered: unknown run, slug, persona or version."""


class CompareError(PanelError):
    """A comparison cannot be built: too few tools, a repeated slug, or a tool with no panel."""


class EvalError(PanelError):
    """A labelled set that cannot be evaluated: missing or bad labels, an unknown baseline."""


class PublishError(PanelError):
    """A publication that cannot be made: no draft, nothing to count, a bad embargo, a missing note."""


class LabelError(PanelError):
    """An editor's call that cannot be recorded: not ship or skip, an unknown or never-reviewed tool."""


class SettingsError(PanelError):
    """The workspace settings file (panel.yaml) is invalid."""


class SiteError(PanelError):
    """A site that would contradict itself (one tool with two figures) is not written."""


class EditorError(PanelError):
    """The editor model could not write a summary (the comparison is still written without one)."""

    exit_code = 1


class SubmissionError(PanelError):
    """A submission refused (too large, unknown fields, a flood from one submitter, a copy of a
    pending one), or a queue action that cannot be done. `status` is the HTTP status the server's
    /submissions route answers with."""

    def __init__(self, message: str, status: int = 422):
        super().__init__(message)
        self.status = status


class VerdictParseError(ValueError):
    """A model reply that is not a valid verdict; its message is sent back to the model."""
