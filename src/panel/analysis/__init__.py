"""Analysis of stored verdicts: the audit helpers and how much the personas agree."""
