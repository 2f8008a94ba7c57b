"""One module per command family; each command computes an Outcome, the boundary renders it."""
