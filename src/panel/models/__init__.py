"""Models: the seam every model call goes through (panel.models.seam), and the providers behind
it. Only this package imports litellm, and only when a call is about to happen."""
