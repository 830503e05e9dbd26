"""Benchmarks: the pipeline at national scale against the speed of reading its files."""
