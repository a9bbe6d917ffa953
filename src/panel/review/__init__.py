"""Review: plan which (persona, brief) pairs to ask, run them through the review graph as one
batch, and report what a re-run changed. `plan` decides, `batch` runs, `graph` is the route."""
