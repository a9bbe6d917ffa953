"""Every default panel falls back on, in one place: change one here and every command, the
LangGraph server, the seam and the help texts follow."""

DEFAULT_MODEL = "local/smollm2"  # the embedded SmolLM2-135M-Instruct (panel.models.local)
DEFAULT_CONCURRENCY = 8  # model calls in flight at once, across a batch
DEFAULT_TIMEOUT_S = 120.0  # seconds one model request may take before it counts as failed
MAX_SAMPLES = 15  # --samples: independent answers per seat, at most
DEFAULT_SUBMIT_MAX_SAMPLES = 3  # samples a LangGraph-server client may ask for (PANEL_SUBMIT_MAX_SAMPLES)
