"""Benchmarks: measured figures beside their targets, never timing assertions in tests."""
