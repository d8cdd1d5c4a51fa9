"""`kernel-eval batch`: many pairs on every local GPU (or a Ray cluster), resumable JSONL out, a summary."""
