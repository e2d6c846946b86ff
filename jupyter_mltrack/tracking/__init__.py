"""The tracking API: fluent functions, the explicit-id client, the log buffer."""
