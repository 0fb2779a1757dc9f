"""Durable storage: the journal, the DuckDB event store, retention and `cashwatch events`."""
