"""Worker processes: a trusted judge (reference side) and a disposable candidate (custom side)."""
