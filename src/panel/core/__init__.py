"""The core types every layer shares: briefs, verdicts, panels, slugs and errors. Imports nothing
from the rest of panel."""
