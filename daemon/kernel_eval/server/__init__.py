"""A warm, per-user evaluation server behind the CLI: a Unix socket, found or started on demand."""
