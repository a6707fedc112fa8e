"""Benchmarks that print their figures; results are kept in bench/RESULTS.md."""
