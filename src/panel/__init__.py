"""panel: a multi-persona LLM review panel for new AI and developer tools."""

__version__ = "0.1.0"
