"""Benchmarks: run them as modules (`python -m bench.<name>`) or all with `make bench`."""
