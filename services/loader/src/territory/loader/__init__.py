"""Territory Engine loader: every event into the warehouse, idempotently."""
