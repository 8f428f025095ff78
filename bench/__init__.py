"""Benchmarks: `make bench` (never run by the tests). Every figure is a ratio or a median
measured side by side in one run, because the machines here are shared and noisy."""
