"""nqpf_helpers."""
