"""Models: the seam every model call goes through (panel.models.seam), one record per backend behind
it (panel.models.backends). Only this package imports litellm, and only when a call is about to happen."""
